"""``facebench eval pairs`` and ``facebench eval compare`` (argparse only at import time)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cliflags import number, one_line_errors
from ..params import SEED_MAX
from . import METRICS


def add_parser(subparsers) -> None:
    p = one_line_errors(
        subparsers.add_parser("eval", help="verification metrics from embeddings; paired comparison of two trials")
    )
    sub = p.add_subparsers(dest="eval_command", required=True, metavar="EVAL_COMMAND")

    pp = one_line_errors(
        sub.add_parser("pairs", help="LFW-protocol verification of an embeddings file on a pairs file")
    )
    pp.add_argument("--embeddings", required=True, help=".npz or .parquet with 'names' and 'embeddings' (N x D)")
    pp.add_argument("--pairs", required=True, help="LFW pairs.txt or CSV path_a,path_b,same,fold")
    _add_scoring(pp)
    pp.add_argument(
        "--folds",
        type=_FOLDS,
        default=None,
        metavar="K",
        help="re-assign K (1-1000000) folds as contiguous blocks in file order (default: the file's folds)",
    )
    pp.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    pp.set_defaults(func=_cmd_pairs)

    pc = one_line_errors(sub.add_parser("compare", help="paired comparison of two trials on the same pairs"))
    pc.add_argument("a", help="trial directory (artefacts/verification.npz), that .npz, or an embeddings file")
    pc.add_argument("b", help="the same for the second trial")
    pc.add_argument("--pairs", help="pairs file, required when A and B are embeddings files")
    _add_scoring(pc)
    pc.add_argument(
        "--folds", type=_FOLDS, default=None, metavar="K", help="as for 'eval pairs' (embeddings files only)"
    )
    pc.add_argument("--n-boot", type=number(1, 10**9), default=2000, help="bootstrap resamples, 1-10^9 (default 2000)")
    pc.add_argument("--seed", type=number(0, SEED_MAX), default=0, help="bootstrap seed, 0 to 2^63-1 (default 0)")
    pc.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    pc.set_defaults(func=_cmd_compare)
    return sub  # facebench.cli adds ``eval model`` (facebench.engine.use_cli) to it


_FOLDS = number(1, 10**6)


def _add_scoring(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", choices=METRICS, default="euclidean", help="pair score (default euclidean)")
    p.add_argument("--normalize", action="store_true", help="L2-normalise embeddings before scoring")


def _scores_from_embeddings(emb_path: str, pairs_path: str, args: argparse.Namespace):
    from ..data.pairs import read_pairs
    from ..errors import DataError
    from .files import contiguous_folds, read_embeddings, resolve_pairs
    from .verification import pair_scores

    names, emb = read_embeddings(emb_path)
    pairs = resolve_pairs(read_pairs(pairs_path), names, embeddings_path=emb_path)
    fold = contiguous_folds(len(pairs.same), args.folds) if args.folds is not None else pairs.fold  # 0: refused
    try:
        scores, greater = pair_scores(emb, pairs.a, pairs.b, metric=args.metric, normalize=args.normalize)
    except DataError as e:
        raise DataError(f"{emb_path}: {e}") from None
    return {"scores": scores, "same": pairs.same, "fold": fold, "greater_is_same": greater, "source": emb_path}


def _cmd_pairs(args: argparse.Namespace) -> int:
    from ..io import dumps_json
    from .verification import evaluate

    t = _scores_from_embeddings(args.embeddings, args.pairs, args)
    result = evaluate(t["scores"], t["same"], t["fold"], greater_is_same=t["greater_is_same"])
    if args.json:
        print(dumps_json({"metric": args.metric, "normalize": args.normalize, **result.to_json()}))
    else:
        print(format_result(result, metric=args.metric))
    return 0


def format_result(result, *, metric: str) -> str:
    rule = ">" if result.greater_is_same else "<"
    lines = [f"{'fold':>6} {'threshold':>14} {'accuracy':>9} {'intersect.':>14} {'accuracy':>9}"]
    for f, t, a, ti, ai in zip(
        result.fold_ids,
        result.thresholds,
        result.fold_accuracy,
        result.intersection_thresholds,
        result.intersection_accuracy,
    ):
        lines.append(f"{int(f):>6} {t:>14.6g} {a:>9.4f} {ti:>14.6g} {ai:>9.4f}")
    lines += [
        f"same iff {metric} {rule} threshold (threshold fitted on the other folds)",
        f"accuracy      {result.accuracy_mean:.4f} ± {result.accuracy_std:.4f} (std, ddof=0; "
        f"sem {result.accuracy_sem:.4f})",
        f"intersection  {result.intersection_accuracy_mean:.4f} ± {result.intersection_accuracy_std:.4f}",
        f"AUC           {result.auc:.4f}",
        f"EER           {result.eer:.4f}",
    ]
    for t in result.tar_at_far:
        flag = "  (unresolved: too few negatives per fold)" if t.unresolved else ""
        lines.append(f"TAR@FAR={t.far:<6g} {t.tar_mean:.4f}{flag}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _load_trial(path: str, args: argparse.Namespace) -> dict:
    from ..artefacts import ARTEFACTS, VERIFICATION_NPZ, read_verification_npz
    from ..errors import ConfigError, DataError

    p = Path(path)
    if not p.exists():
        raise DataError(
            f"{path}: not found (looked for {p.absolute()}); expected a trial folder (holding "
            f"{ARTEFACTS}/{VERIFICATION_NPZ}), such a .npz, or an embeddings file with --pairs"
        )
    if p.is_dir() or (p.suffix.lower() == ".npz" and _is_verification_npz(p)):
        return read_verification_npz(p)
    if not args.pairs:
        raise ConfigError(f"{path}: an embeddings file needs --pairs (or give a trial directory)")
    return _scores_from_embeddings(path, args.pairs, args)


def _is_verification_npz(path: Path) -> bool:
    from ..artefacts import load_npz
    from ..errors import DataError

    try:
        return "scores" in load_npz(path)
    except DataError:
        return False  # read_embeddings reports the file properly


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..io import dumps_json
    from .compare import compare_verification

    a, b = _load_trial(args.a, args), _load_trial(args.b, args)
    c = compare_verification(a, b, n_boot=args.n_boot, seed=args.seed)
    if args.json:
        print(dumps_json({"a": args.a, "b": args.b, **c.to_json()}))
        return 0
    print(f"{'fold':>6} {'acc A':>8} {'acc B':>8} {'A - B':>8}")
    for f, x, y, d in zip(c.fold_ids, c.fold_accuracy_a, c.fold_accuracy_b, c.fold_diff):
        print(f"{int(f):>6} {x:>8.4f} {y:>8.4f} {d:>+8.4f}")
    print(f"mean   {c.accuracy_a:>8.4f} {c.accuracy_b:>8.4f} {c.mean_diff:>+8.4f}")
    print(
        f"{c.confidence:.0%} paired-bootstrap CI of A - B: [{c.ci_low:+.4f}, {c.ci_high:+.4f}] "
        f"({c.n_boot} resamples, seed {c.seed})"
    )
    print(
        f"McNemar ({c.mcnemar_method}): only A right {c.only_a_correct}, only B right {c.only_b_correct}, "
        f"p = {c.mcnemar_p:.4g}"
    )
    return 0
