"""``eval.sets``: every named verification set tested once, at the end, on the model chosen on validation.

Selection never sees these sets: they are loaded after training, scored once, and written as
``artefacts/sets/<name>.npz`` (the verification artefact of docs/architecture.md) plus one row per set in the
``sets`` table (``artefacts/sets.parquet``). The data layer already refused leakage against their people before
training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import TrialConfig
from ..io import atomic_write_text

TRAIN_IDENTITIES = "train_identities.txt"  # training + validation names: `eval model` checks leakage against them


def set_row(name: str, path: str, info: dict, result: Any) -> dict[str, Any]:
    """One table row: a set's summary as the paper-style table and the report read it."""
    folds = ",".join(str(f) for f in info.get("folds") or [])
    return {
        "set": name,
        "path": path,
        "format": info.get("format"),
        "pairs": info.get("pairs"),
        "positives": info.get("positives"),
        "folds": folds,
        **result.summary(""),
    }


def test_sets(
    cfg: TrialConfig, verify: Callable[[Any, Any], tuple[Any, Any]], out_dir: Path, *, people: set[str]
) -> dict[str, float]:
    """Test on every set of ``cfg.eval.sets``; returns ``set_<name>_accuracy_mean`` etc. for the result.
    ``people`` (the trial's training and validation identities) is recorded for later ``eval model`` runs."""
    from ..artefacts import rows_to_columns, write_table, write_verification_npz
    from ..data.images import Decoding
    from ..data.sets import load_set, plan_sets

    atomic_write_text(out_dir / TRAIN_IDENTITIES, "".join(f"{p}\n" for p in sorted(people)))
    d = cfg.data
    rows, metrics = [], {}
    for name, path, folds in plan_sets(cfg.eval.sets, cfg.eval.set_folds):
        vs = load_set(path, Decoding.of(d), folds=folds, name=name)
        result, scores = verify(vs.images, vs.pairs)
        write_verification_npz(
            out_dir / "sets" / f"{vs.name}.npz",
            scores=scores,
            same=vs.pairs.same,
            fold=vs.pairs.fold,
            result=result,
            metric=cfg.eval.metric,
        )
        rows.append(set_row(vs.name, vs.path, vs.info, result))
        metrics.update(
            {f"set_{vs.name}_{k}": v for k, v in result.summary("").items() if k in ("accuracy_mean", "accuracy_std")}
        )
    if rows:
        write_table(out_dir, "sets", rows_to_columns(rows))
    return metrics
