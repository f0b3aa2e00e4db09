"""Command line of the sweep files (``python sweeps/vae.py [flags]``) and ``facebench sweep FILE [flags]``.

Top level is argparse only: this module is imported every time ``facebench`` starts.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..cliflags import one_line_errors

TRACKERS = ("tensorboard", "mlflow")  # --log: Ray Tune's logger callbacks (trackers.tracker_callbacks)
INTERRUPTED = "finished trials are kept, continue with --resume"  # what Ctrl-C during a sweep says
DEFAULT_SEEDS = 5  # new seeds per confirmed configuration: fewer cannot estimate seed-to-seed spread
# The numeric flags of `facebench sweep` / `python FILE` / `facebench confirm`: attribute -> (flag, lo, hi, what lo
# means). Checked after parsing (check_flags), so a flag out of range is one line naming the allowed range.
FLAG_RANGES = {
    "num_samples": ("--num-samples", 1, 100_000, ""),
    "cpus_per_trial": ("--cpus-per-trial", 0.01, 1024, ""),
    "gpus_per_trial": ("--gpus-per-trial", 0, 64, "0: no GPU"),
    "max_concurrent": ("--max-concurrent", 0, 100_000, "0: the cluster's trial slots"),
    "confirm": ("--confirm", 0, 1000, "0: no confirmation"),
    "seeds": ("--seeds", 1, 1000, ""),
    "top": ("--top", 1, 1000, ""),
    "margin": ("--margin", 0.0001, 0.5, "accuracy: 0.02 is +-2 points"),
}


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``python FILE`` and ``facebench sweep FILE``, in groups, in the order --help lists them."""
    _add_placement_arguments(p)
    _add_run_arguments(p)
    _add_output_arguments(p)
    p.add_argument(
        "--confirm",
        type=int,
        default=None,
        metavar="K",
        help="after the sweep, re-run its top K configurations with --seeds new seeds each and compare "
        "them on the test pairs (the report opens with the verdicts); default: the sweep's "
        "confirm_top (the demo: 2), 0 for none; see `facebench confirm`",
    )
    add_confirm_arguments(p, top=False)
    p.add_argument(
        "--keep-checkpoints",
        choices=("all", "usable"),
        default="all",
        help="usable: remove the checkpoints of stopped and failed trials as they end and, at the end, of "
        "completed trials outside the top 3; unfinished (resumable) trials keep theirs",
    )
    # SUPPRESS: under `facebench sweep FILE` an absent --debug must not reset `facebench --debug`.
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error raised in the sweep file",
    )


def _add_placement_arguments(p: argparse.ArgumentParser) -> None:
    """Where the sweep runs: a private Ray or a cluster."""
    p.add_argument(
        "--local",
        action="store_true",
        help="start a private Ray on this machine even where a cluster is running (without --local: "
        "--address, else $RAY_ADDRESS, else the cluster this node belongs to, else local)",
    )
    p.add_argument(
        "--address", default=None, help="Ray cluster address ('auto' on a cluster node); implies cluster mode"
    )


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """What the sweep runs (its scale, trials and objectives) and on how much per trial."""
    p.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data and models: finishes in about a minute on CPU"
    )
    p.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="run the sweep at one of its named scales (e.g. cpu: small inputs and widths sized for 2 CPU "
        "cores; the sweep file lists its profiles)",
    )
    p.add_argument("--num-samples", type=int, default=None, help="number of trials (default: the sweep's)")
    p.add_argument(
        "--second-objective",
        default=None,
        metavar="NAME",
        help="make it a Pareto sweep of accuracy against a cost: params, flops or latency_ms (batch-1 "
        "forward time on the trial's device); every trial runs to the end, summary.json lists the "
        "front (docs/sweeps.md)",
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        default=None,
        help="GPUs per trial; fractions such as 0.25 let four small trials share one GPU",
    )
    p.add_argument("--cpus-per-trial", type=float, default=None, help="CPUs per trial (default: the sweep's)")
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="cap on trials running at once (0: as many as the cluster's nodes hold at the start)",
    )


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Where the sweep writes, whether it continues an earlier one, and what it shows and logs while it runs."""
    p.add_argument(
        "--storage",
        default=None,
        help="shared results location for a cluster: an NFS path or a cloud URI (s3://bucket/runs)",
    )
    p.add_argument(
        "--study-db",
        default=None,
        help="SQLAlchemy URL of the Optuna study (default sqlite:///<results>/<name>/study.db)",
    )
    p.add_argument("--results", default=None, help="results folder (default $FACEBENCH_RUNS or ./runs)")
    p.add_argument(
        "--data-root", default=None, help="root of the real data (default $FACEBENCH_DATA or ./data); LFW at <root>/lfw"
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep of the same name")
    p.add_argument("--fresh", action="store_true", help="delete an earlier sweep of the same name first")
    p.add_argument("--name", default=None, help="sweep name (default: the sweep file's)")
    p.add_argument("--quiet", action="store_true", help="no progress line while the sweep runs")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="Ray's status table every 15 s and the trials' own output instead of the progress line",
    )
    p.add_argument(
        "--log",
        action="append",
        default=None,
        metavar="TRACKER",
        help=f"also log every trial to a tracker: {', '.join(TRACKERS)} (repeat or comma-separate; needs "
        "pip install 'facebench[trackers]')",
    )
    p.add_argument(
        "--mlflow-uri",
        default=None,
        help="MLflow tracking URI for --log mlflow (default: a SQLite store <results>/<name>/mlflow.db)",
    )


def parse_sweep_args(argv: list[str] | None = None, *, prog: str | None = None) -> argparse.Namespace:
    p = one_line_errors(argparse.ArgumentParser(prog=prog, description="run a facebench sweep (Ray Tune + Optuna)"))
    add_sweep_arguments(p)
    p.set_defaults(on_interrupt=INTERRUPTED)
    return p.parse_args(argv)


def parse_trackers(values: list[str] | None) -> tuple[str, ...]:
    """``--log tensorboard --log mlflow`` or ``--log tensorboard,mlflow``; an unknown name is a ConfigError."""
    from ..errors import ConfigError

    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    for n in names:
        if n not in TRACKERS:
            raise ConfigError(f"--log {n!r}: not a tracker; choose from: {', '.join(TRACKERS)}")
    return tuple(dict.fromkeys(names))


def check_flags(args: argparse.Namespace) -> None:
    """Every numeric flag given is a finite number in its range (FLAG_RANGES), and --fresh is not given with
    --resume (the two contradict each other); else one ConfigError line naming the flag and what is allowed."""
    import math

    from ..errors import ConfigError

    if getattr(args, "fresh", False) and getattr(args, "resume", False):
        raise ConfigError(
            "--fresh and --resume contradict each other: --resume continues the earlier sweep, "
            "--fresh deletes it first; give one"
        )
    for attr, (flag, lo, hi, note) in FLAG_RANGES.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ConfigError(
                f"{flag} {value:g}: out of range; allowed [{lo:g}, {hi:g}]" + (f" ({note})" if note else "")
            )


def data_root(args: argparse.Namespace) -> str:
    """--data-root, else $FACEBENCH_DATA, else ./data; a relative folder is taken from where the sweep was started
    (the trials run in Ray's own working folders, where it would name nothing)."""
    root = args.data_root or os.environ.get("FACEBENCH_DATA") or "data"
    return root if "://" in root else os.path.abspath(root)


# Written by `ray start --head` on a cluster's head node (what `ray submit` runs the sweep file on); Ray's own
# address="auto" resolution reads the same file.
RAY_CURRENT_CLUSTER = "/tmp/ray/ray_current_cluster"


def cluster_address(args: argparse.Namespace) -> str | None:
    """The Ray address to join, or None for a private local Ray (see --local)."""
    if args.local:
        return None
    if args.address:
        return args.address
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    return "auto" if os.path.exists(RAY_CURRENT_CLUSTER) else None


def run_from_args(spec: Any, args: argparse.Namespace) -> int:
    """Run ``spec`` as the flags say (errors: facebench.cli.run_command's policy); 0 when a trial completed."""
    from .runner import run_sweep
    from .session import Output, Placement

    check_flags(args)
    output = Output(
        results=args.results,
        storage=args.storage,
        study_db=args.study_db,
        resume=args.resume,
        fresh=args.fresh,
        verbose=0 if args.quiet else 2 if args.verbose else 1,
        trackers=parse_trackers(args.log),
        mlflow_uri=args.mlflow_uri,
        allow_version_change=args.allow_version_change,
        keep_checkpoints=args.keep_checkpoints,
    )
    if args.profile:
        spec = spec.profile_variant(args.profile)
    spec = spec.with_data_root(data_root(args))
    if args.smoke:
        spec = spec.smoke_variant()
    if args.name:
        spec = spec.replace(name=args.name)
    if args.second_objective is not None:
        from ..pareto import check_cost

        spec = spec.replace(second_objective=check_cost(args.second_objective, where="--second-objective"))
    placement = Placement(
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        address=cluster_address(args),
    )
    summary = run_sweep(spec, placement, output, num_samples=args.num_samples)
    top = spec.confirm_top if args.confirm is None else args.confirm
    if top and summary["counts"]["completed"]:
        from .confirm import Choice, run_confirmation

        choice = Choice(
            top=top, seeds=args.seeds or spec.confirm_seeds, per=args.per, front=args.front, margin=args.margin
        )
        run_confirmation(
            summary["sweep_dir"],
            choice,
            placement=Placement(address=placement.address),
            verbose=output.verbose,
            allow_version_change=args.allow_version_change,
        )
    build_sweep_report(summary["sweep_dir"])
    return 0 if summary["counts"]["completed"] else 1


def build_sweep_report(sweep_dir: str) -> None:
    from ..artefacts import SweepDir
    from ..report import build_report

    out = SweepDir(sweep_dir).report
    build_report([sweep_dir], out=out)
    print(f"facebench sweep: report {out / 'index.html'}")


def add_confirm_arguments(p: argparse.ArgumentParser, *, top: bool = True) -> None:
    if top:
        p.add_argument(
            "--top",
            type=int,
            default=3,
            metavar="K",
            help="configurations to confirm: the sweep's top K by its objective (default 3)",
        )
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="S",
        help=f"new seeds per configuration (default {DEFAULT_SEEDS}; a sweep's own confirm_seeds when it "
        "confirms after running)",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        metavar="M",
        help="equivalence margin as accuracy (0.02: two recipes within +-2 points are 'equivalent' when "
        "TOST says so); default: the sweep's equivalence_margin (0.02 unless it declares one)",
    )
    p.add_argument(
        "--per",
        default=None,
        metavar="KEY",
        help="confirm the best configuration of each level of this config key (e.g. loss.name) "
        "instead of the top K overall",
    )
    p.add_argument(
        "--front",
        action="store_true",
        help="confirm every member of a Pareto sweep's front (summary.json's pareto_front) instead of the top K",
    )
    p.add_argument(
        "--allow-version-change",
        action="store_true",
        help="resume, confirm or calibrate a sweep under a code version other than the one its sweep.json "
        "recorded (refused otherwise; the report lists the versions it mixes)",
    )


def add_parser(subparsers: Any) -> None:
    from .confirm_cli import add_confirm_parser  # it reads this module's flags and checks

    add_confirm_parser(subparsers)
    p = one_line_errors(
        subparsers.add_parser(
            "sweep",
            help="run a sweep file (same as `python FILE [flags]`)",
            description="Run a sweep file such as sweeps/vae.py with the sweep flags below; "
            "equivalent to `python FILE [flags]`.",
        )
    )
    p.add_argument("file", help="sweep file, e.g. sweeps/vae.py")
    add_sweep_arguments(p)
    p.set_defaults(func=_cmd_sweep, on_interrupt=INTERRUPTED)


def _cmd_sweep(args: argparse.Namespace) -> int:
    """Import the sweep file as a module (its ``if __name__ == "__main__"`` block does not run) and run its
    ``SPEC`` with the flags parsed here; its own errors are one line naming it (spec.load_sweep_file)."""
    from .spec import load_sweep_file

    return run_from_args(load_sweep_file(args.file), args)
