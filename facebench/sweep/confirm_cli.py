"""``facebench confirm``: re-run a finished sweep's top configurations (or a random few, --calibrate) over new seeds."""

from __future__ import annotations

import argparse
from typing import Any

from ..cliflags import one_line_errors
from .cli import DEFAULT_SEEDS, add_confirm_arguments, build_sweep_report, check_flags, cluster_address


def add_confirm_parser(subparsers: Any) -> None:
    p = one_line_errors(
        subparsers.add_parser(
            "confirm",
            help="re-run a finished sweep's top configurations over new seeds and say which recipe really wins",
            description="Re-run the top K completed configurations of a finished sweep folder "
            "(or the best of each level of --per) with S new seeds each, as Ray "
            "trials in the same folder; compares each with the reference (best mean "
            "validation objective) on the same test items: per-seed paired t-test "
            "with Holm, intervals over seeds and folds, TOST against --margin, exact "
            "McNemar per seed; a verdict per recipe, then rebuilds the report.",
        )
    )
    p.add_argument("sweep_dir", help="a finished sweep folder (holds summary.json), e.g. runs/demo")
    add_confirm_arguments(p)
    p.add_argument("--local", action="store_true", help="start a private Ray on this machine")
    p.add_argument("--address", default=None, help="Ray cluster address ('auto' on a cluster node)")
    p.add_argument("--quiet", action="store_true", help="no progress line while the re-runs train")
    p.add_argument(
        "--calibrate",
        type=int,
        default=0,
        metavar="N",
        help="instead of confirming: re-run N configurations chosen at random (not the top ones) with "
        "--seeds new seeds each and measure how often objective_pi95 covers them (summary.json's "
        "calibration); at least 8 x 3 for a coverage worth quoting",
    )
    p.add_argument(
        "--calibrate-seed",
        type=int,
        default=0,
        metavar="R",
        help="seed of the random choice of --calibrate's configurations (recorded; default 0)",
    )
    p.set_defaults(func=_cmd_confirm)


def _cmd_confirm(args: argparse.Namespace) -> int:
    """User errors (no completed trial, an unknown --per key, --top 0) are FacebenchErrors: one line, exit 2."""
    check_flags(args)
    from .confirm import Choice, load_finished, pick_recipes, run_confirmation
    from .session import Placement

    if args.calibrate:
        from .calibrate import run_calibration

        run_calibration(
            args.sweep_dir,
            configs=args.calibrate,
            seeds=args.seeds or DEFAULT_SEEDS,
            rng_seed=args.calibrate_seed,
            placement=Placement(address=cluster_address(args)),
            verbose=0 if args.quiet else 1,
            allow_version_change=args.allow_version_change,
        )
        return 0

    # refuse bad input before Ray starts
    pick_recipes(load_finished(args.sweep_dir), top=args.top, per=args.per, front=args.front)
    choice = Choice(top=args.top, seeds=args.seeds or DEFAULT_SEEDS, per=args.per, front=args.front, margin=args.margin)
    confirmation = run_confirmation(
        args.sweep_dir,
        choice,
        placement=Placement(address=cluster_address(args)),
        verbose=0 if args.quiet else 1,
        allow_version_change=args.allow_version_change,
    )
    build_sweep_report(str(args.sweep_dir))
    return 0 if any(c["seeds"] for c in confirmation) else 1
