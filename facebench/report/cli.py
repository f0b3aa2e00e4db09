"""``facebench report RUN_DIR [RUN_DIR ...] --out reports/NAME``: Parquet tables, plots and one HTML page."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="turn sweep/trial directories into Parquet tables, plots and a self-contained HTML page",
        description="Collect every trial (completed, stopped, failed) of the given sweep directories, trial "
        "directories or folders of sweeps (local paths or URIs such as file:///x or s3://bucket/x) "
        "into <out>/{trials,epochs,folds,roc,confusion}.parquet and <out>/index.html.",
    )
    p.add_argument(
        "run_dirs", nargs="*", metavar="RUN_DIR", help="sweep directory, trial directory or folder of sweeps"
    )
    p.add_argument("--out", default=None, help="output directory or URI, e.g. reports/margin (required to build)")
    p.add_argument(
        "--check",
        default=None,
        metavar="DIR",
        help="instead of building: recompute every verdict and headline number of the report in DIR from "
        "the files beside it (summary.json, decisions.npz); exit 1 naming the first difference",
    )
    p.add_argument("--title", default=None, help="page title (default: the sweep names)")
    p.add_argument(
        "--reference",
        action="append",
        default=None,
        metavar="LABEL=VALUE",
        help="a score to read the trials against, e.g. a floor measured on the same pairs: "
        "--reference 'whitened PCA floor=0.629' (repeatable)",
    )
    p.add_argument(
        "--reference-model",
        action="append",
        default=None,
        metavar="LABEL=DIR",
        help="an ONNX model judged on the same pairs (`facebench eval model MODEL.onnx --save DIR`), "
        "drawn as a reference (repeatable)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        metavar="SCORE",
        help="the test score the best recipe should reach; the summary says met, or missed by how much",
    )
    p.add_argument(
        "--note",
        action="append",
        default=None,
        metavar="TEXT",
        help="a line for the summary, e.g. the machine and budget the sweep ran on (repeatable)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import ConfigError

    if args.check is not None:
        return _check(args.check)
    if not args.run_dirs or args.out is None:
        raise ConfigError("facebench report: give RUN_DIR(s) and --out DIR to build, or --check DIR")

    from ..ownership import claim_dir, remove_owned
    from . import build_report
    from .reference_model import parse_reference_models
    from .targets import parse_references

    references = parse_references(args.reference)  # bad input refused before anything is written
    references += parse_reference_models(args.reference_model)
    if args.target is not None and not 0.0 <= args.target <= 1.0:
        from ..errors import ConfigError

        raise ConfigError(f"--target {args.target}: a test score between 0 and 1")
    local = "://" not in args.out
    created = local and not Path(args.out).exists()
    if local:
        claim_dir(args.out, "report")  # a folder of the user's is refused, not written over
    try:
        index = build_report(
            args.run_dirs, args.out, title=args.title, references=references, notes=args.note or [], target=args.target
        )
    except BaseException:
        if created:
            remove_owned(args.out)  # a report that failed leaves no half-written folder behind
        raise
    print(index)
    return 0


def _check(folder: str) -> int:
    import sys

    from .check import check

    difference = check(folder)
    if difference is not None:
        print(f"facebench report --check {folder}: {difference}", file=sys.stderr)
        return 1
    print(f"facebench report --check {folder}: every verdict and headline number recomputes")
    return 0
