"""``facebench embed`` and ``facebench eval model``: a trained trial's model on any data (argparse only at import)."""

from __future__ import annotations

import argparse
import importlib

from ..cliflags import one_line_errors
from .errors import memory_is_users

# The batch and image size are the trial's own (eval.batch_size, data.image_size): what is left to reduce is the load.
_ASK_FOR_LESS = (
    "a batch of the trial's eval.batch_size images at its data.image_size needs more memory than is free; "
    "free memory (other jobs on this machine or GPU) or run where there is more"
)


def add_parser(subparsers) -> None:
    p = one_line_errors(
        subparsers.add_parser(
            "embed",
            help="embeddings of a dataset from a trained trial (.npz or .parquet)",
            description="Embed every image of PATH with the model RUN_DIR chose on validation, prepared and flip-fused "
            "as that trial was; the output is what `facebench eval pairs --embeddings` reads.",
        )
    )
    p.add_argument("run_dir", help="trial directory (config.json + checkpoint.pt)")
    p.add_argument("--data", required=True, help="LFW folder, identity folder, RecordIO folder or .bin set")
    p.add_argument("--out", required=True, help="emb.npz or emb.parquet (never overwritten)")
    p.add_argument("--quiet", action="store_true", help="no progress bar while decoding")
    p.set_defaults(func=_cmd_embed)


def add_eval_parser(eval_subparsers) -> None:
    p = one_line_errors(
        eval_subparsers.add_parser(
            "model",
            help="verification of a trained trial's model on any sets",
            description="Test the model RUN_DIR chose on validation on each --on set "
            "(.bin or LFW-style folder): one row per set, accuracy ± std over "
            "the folds, and their mean.",
        )
    )
    p.add_argument("run_dir", help="trial directory (config.json + checkpoint.pt), or MODEL.onnx (docs/deploy.md)")
    p.add_argument(
        "--on",
        dest="sets",
        action="append",
        required=True,
        metavar="PATH",
        help="a .bin set or a folder with images + pairs.txt, NAME=PATH to name it (repeatable)",
    )
    p.add_argument("--folds", default="", help="only these folds of every set, e.g. 5-9 (default: all)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    importlib.import_module("facebench.deploy.cli").add_onnx_flags(p)
    p.set_defaults(func=_cmd_eval_model)


def _cmd_embed(args: argparse.Namespace) -> int:
    from .use import embed_dataset

    with memory_is_users(f"embedding {args.data}", _ASK_FOR_LESS):
        n, dim = embed_dataset(args.run_dir, args.data, args.out, progress=not args.quiet)
    print(f"wrote {n:,} embeddings of dimension {dim} to {args.out}")
    return 0


def _cmd_eval_model(args: argparse.Namespace) -> int:
    from ..io import dumps_json
    from .use import evaluate_model

    onnx_cli = importlib.import_module("facebench.deploy.cli")  # an ONNX file is judged by facebench.deploy
    if onnx_cli.is_onnx(args.run_dir):
        return onnx_cli.cmd_eval_onnx(args)
    onnx_cli.check_trial_flags(args)

    with memory_is_users(f"testing {args.run_dir}", _ASK_FOR_LESS):
        rows = evaluate_model(args.run_dir, args.sets, folds=args.folds)
    if args.json:
        print(dumps_json(rows))
        return 0
    print(f"{'set':<14} {'pairs':>7} {'folds':>5} {'accuracy':>18} {'AUC':>7} {'EER':>7}")
    for r in rows:
        print(
            f"{r['set']:<14} {r['pairs']:>7,} {len(r['folds'].split(',')):>5} {r['accuracy_mean']:>9.4f} ± "
            f"{r['accuracy_std']:.4f} {r['auc']:>7.4f} {r['eer']:>7.4f}"
        )
    if len(rows) > 1:
        mean = sum(r["accuracy_mean"] for r in rows) / len(rows)
        print(f"{'mean':<14} {'':>7} {'':>5} {mean:>9.4f}")
    return 0
