"""``facebench export`` and the ONNX side of ``facebench eval model`` (argparse only at import time)."""

from __future__ import annotations

import argparse

from ..cliflags import number, one_line_errors

ONNX_FLAGS = ("convention", "crop", "output", "batch_size", "save")


def add_parser(subparsers) -> None:
    p = one_line_errors(
        subparsers.add_parser(
            "export",
            help="the model a trial chose on validation as an ONNX embedding model",
            description="Export RUN_DIR's chosen model (encoder, flip fusion, whitening) to ONNX with a dynamic batch; "
            "its metadata records the preprocessing and scoring the evaluator applies (docs/deploy.md).",
        )
    )
    p.add_argument("run_dir", help="a finished trial directory (config.json + checkpoint.pt + result.json)")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="output format (default onnx)")
    p.add_argument("--out", required=True, help="FILE.onnx (an existing file is replaced only if facebench wrote it)")
    p.set_defaults(func=_cmd_export)


def add_onnx_flags(p: argparse.ArgumentParser) -> None:
    """``eval model`` flags that apply to an .onnx model only (default None: given with a trial, refused)."""
    from .evaluate import CONVENTIONS

    g = p.add_argument_group("ONNX models (MODEL.onnx instead of a trial directory)")
    g.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default=None,
        help="auto (default): facebench's metadata if the file has it, else InsightFace's loader's reading",
    )
    g.add_argument(
        "--crop",
        type=number(0.0, 1.0, float, lo_open=True),
        default=None,
        help="centre crop before the resize (default: metadata, or 1.0)",
    )
    g.add_argument("--output", default=None, help="the embedding output of a model with several outputs")
    g.add_argument(
        "--batch-size", type=number(1, 65536), default=None, help="images per onnxruntime call (default 256)"
    )
    g.add_argument(
        "--save",
        default=None,
        metavar="DIR",
        help="write DIR/artefacts/verification.npz (for eval compare) and DIR/result.json (for report "
        "--reference-model); one --on set",
    )


def is_onnx(path: str) -> bool:
    from pathlib import Path

    return path.lower().endswith(".onnx") or Path(path).is_file()


def check_trial_flags(args: argparse.Namespace) -> None:
    from ..errors import ConfigError

    given = [f for f in ONNX_FLAGS if getattr(args, f, None) is not None]
    if given:
        raise ConfigError(
            f"--{given[0].replace('_', '-')} applies to an .onnx model, not to a trial directory ({args.run_dir})"
        )


def cmd_eval_onnx(args: argparse.Namespace) -> int:
    from ..io import dumps_json
    from .evaluate import Reading, evaluate_onnx, save_result

    how = Reading(
        convention=args.convention or "auto",
        crop=args.crop,
        output=args.output or "",
        batch_size=args.batch_size or 256,
    )
    res = evaluate_onnx(args.run_dir, args.sets, folds=args.folds, how=how)
    if args.save:
        save_result(args.save, res)
    if args.json:
        print(dumps_json({k: v for k, v in res.items() if k != "arrays"}))
        return 0
    print(res["describe"])
    print(f"{'set':<14} {'pairs':>7} {'folds':>5} {'accuracy':>18} {'AUC':>7} {'EER':>7}")
    for r in res["rows"]:
        print(
            f"{r['set']:<14} {r['pairs']:>7,} {len(r['folds'].split(',')):>5} {r['accuracy_mean']:>9.4f} ± "
            f"{r['accuracy_std']:.4f} {r['auc']:>7.4f} {r['eer']:>7.4f}"
        )
    if args.save:
        print(f"saved to {args.save}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_trial

    r = export_trial(args.run_dir, args.out, fmt=args.format)
    print(f"wrote {r['out']}: {r['embedding_size']}-d embeddings, {r['convention']} ({r['seconds']:.1f} s)")
    return 0
