"""What the page's verdicts are computed from, written beside it (docs/report.md, "The record beside the page").

``summary.json``: the sweep's summary.json (several sweeps: ``{"sweeps": [...]}``) plus ``targets``, one entry per
target line on the page ({label, target, value, ci95, verdict, line, source}); ``decisions.npz``: per completed trial,
its per-item test decisions (``<sweep>/<trial_id>/correct``, bool) and their folds (``.../fold``), from which
``facebench report --check`` (check.py) recomputes every test score, interval and verdict the page states.

A target verdict is generated, never written by hand: ``met`` when the 95% interval's lower bound is at or above the
target, ``missed`` when its upper bound is below it, otherwise ``inconclusive (CI a–b contains the target)``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from facebench.artefacts import REPORT_DECISIONS, REPORT_RECORD

RECORD, DECISIONS = REPORT_RECORD, REPORT_DECISIONS
TOP_DECISIONS = 10  # decisions.npz: the top 10, every trial tied with #1 and every confirmation run


def verdict(ci: Sequence[float], target: float) -> str:
    lo, hi = (float(x) for x in ci)
    if math.isfinite(lo) and lo >= target:
        return "met"
    if math.isfinite(hi) and hi < target:
        return "missed"
    return "inconclusive"


def target_line(e: dict) -> str:
    """The sentence the page prints for one target entry: every number in it is in the entry."""
    lo, hi = e["ci95"]
    shown = e["verdict"]
    if shown == "inconclusive":
        shown = (
            f"inconclusive (CI {lo:.4f}–{hi:.4f} contains the target)"
            if math.isfinite(lo) and math.isfinite(hi)
            else "inconclusive (no interval: the per-item decisions are missing)"
        )
    return (
        f"target {e['metric']} >= {e['target']:.4f}: {e['label']} scores {e['value']:.4f} "
        f"(95% CI {lo:.4f}–{hi:.4f}, {e['interval']}): {shown}"
    )


def calibration_line(name: str, c: dict) -> str:
    """The page's line for summary.json's ``calibration`` (``facebench confirm --calibrate``): every number in it is
    in the entry."""
    lo, hi = c["ci95"]
    configs = len(c.get("configurations") or {r["source_trial_id"] for r in c.get("runs") or []})
    return (
        f"calibration of {name}: {c['inside']} of {c['n']} new-seed objectives of {configs} configurations chosen "
        f"at random fall inside their trial's 95% prediction interval (objective_pi95): coverage "
        f"{c['coverage']:.3f} (95% CI {lo:.3f}–{hi:.3f}, Wilson)"
    )


def fold_interval(correct: np.ndarray, fold: np.ndarray) -> tuple[float, list[float]]:
    """(mean of the folds' accuracies, its 95% t-interval over folds): folds hold disjoint people, so they are the
    independent units; one trained model, so seed-to-seed variance is not in it."""
    from scipy import stats

    _, f_idx = np.unique(fold, return_inverse=True)
    acc = np.bincount(f_idx.ravel(), weights=correct.astype(np.float64)) / np.bincount(f_idx.ravel())
    mean = float(acc.mean())
    if len(acc) < 2:
        return mean, [math.nan, math.nan]
    half = float(stats.t.ppf(0.975, len(acc) - 1) * acc.std(ddof=1) / math.sqrt(len(acc)))
    return mean, [mean - half, mean + half]


def decisions(load: Callable[[str, str], dict | None], location: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(correct, fold) of a trial's test items: its verification pairs, or its test images (predictions.npz, in 10
    interleaved folds as the confirmation stage reads them, eval.confirmation.image_folds); None without either."""
    from facebench import artefacts
    from facebench.errors import DataError
    from facebench.eval.compare import correct_decisions
    from facebench.eval.confirmation import image_folds

    p = load(location, artefacts.PREDICTIONS_NPZ)
    if p is not None and {"label", "pred"} <= set(p):
        label = np.asarray(p["label"])
        return np.asarray(p["pred"]) == label, image_folds(len(label))
    v = load(location, artefacts.VERIFICATION_NPZ)
    try:
        return (correct_decisions(v), np.asarray(v["fold"])) if v is not None else None
    except (DataError, KeyError):
        return None


# eval.confirmation.verdict, from the rival's side, when the best beats it: "worse by x points (CI a to b)"
BEATEN = "worse by "


def is_winner(confirmation: list[dict]) -> bool:
    """ "Winner" only where every other recipe's verdict against the best says the best beats it: not an equivalence,
    an inconclusive comparison or a loss."""
    best = next((c for c in confirmation if c.get("best")), None)
    others = [c for c in confirmation if not c.get("best")]
    if best is None or not others:
        return False
    if isinstance(best.get("winner"), bool):
        return best["winner"]
    # older records said "<best> beats <rival>"
    return all(str(c.get("verdict") or "").startswith((BEATEN, f"{best['recipe']} beats ")) for c in others)


RIVAL_VERDICTS = (  # eval.confirmation.verdict's kinds, from the rival's side, as the label names them
    ("better by ", "beaten by"),
    ("equivalent within ", "equivalent within the margin to"),
    ("inconclusive", "inconclusive against"),
)


def winner_label(confirmation: list[dict]) -> str:
    """Who a confirmed sweep's best recipe is, no stronger than its rivals' verdicts: "the confirmed winner" only
    when every rival is beaten; otherwise the best by mean, naming the rivals it is equivalent to, inconclusive
    against or beaten by."""
    if is_winner(confirmation):
        return "the confirmed winner"
    others = [c for c in confirmation if not c.get("best")]
    groups: dict[str, list[str]] = {}
    for c in others:
        v = str(c.get("verdict") or "")
        if v.startswith(BEATEN):
            continue
        phrase = next((name for prefix, name in RIVAL_VERDICTS if v.startswith(prefix)), "without a verdict against")
        groups.setdefault(phrase, []).append(str(c.get("recipe")))
    why = "; ".join(f"{phrase} {', '.join(recipes)}" for phrase, recipes in groups.items()) or "no rival confirmed"
    return f"the best by mean over new seeds (no winner: {why})"


def confirmed_label(name: str, confirmation: list[dict]) -> str | None:
    """The target line's label of sweep ``name``'s best recipe over new seeds (None without one)."""
    win = next((c for c in confirmation if c.get("best")), None)
    if win is None:
        return None
    return f"{winner_label(confirmation)} of {name} ({win['recipe']}, {len(win.get('seeds', []))} seeds)"


def target_entries(
    target: float | None, sweeps: Sequence[Any], ranked: Any, load: Callable[[str, str], dict | None]
) -> list[dict]:
    """summary.json's ``targets``: the #1 by validation (its test folds' interval) and, per sweep whose confirmation
    ran, its best recipe over new seeds (the confirmation's ``ci95`` over seeds)."""
    from .best import best_row

    b = best_row(ranked) if target is not None else None
    if b is None or (isinstance(b.get("score"), float) and math.isnan(b["score"])):
        return []
    found = decisions(load, str(b["location"]))
    value, ci = fold_interval(*found) if found is not None else (float(b["score"]), [math.nan, math.nan])
    out = [
        {
            "label": f"the #1 by validation ({b['sweep']}/{b['trial_id']})",
            "metric": str(b["score_metric"]),
            "target": target,
            "value": value,
            "ci95": ci,
            "interval": "t over test folds, one seed",
            "source": {"sweep": str(b["sweep"]), "trial_id": str(b["trial_id"])},
        }
    ]
    for s in sweeps:
        win = next((c for c in s.confirmation if c.get("best")), None)
        mean, ci = (win or {}).get("test_accuracy_mean"), (win or {}).get("ci95")
        if isinstance(mean, (int, float)) and math.isfinite(mean) and isinstance(ci, list) and len(ci) == 2:
            out.append(
                {
                    "label": confirmed_label(s.name, s.confirmation),
                    "metric": str(b["score_metric"]),
                    "target": target,
                    "value": float(mean),
                    "ci95": [float(ci[0]), float(ci[1])],
                    "interval": "the confirmation's, over seeds",
                    "source": {"sweep": s.name, "recipe": win["recipe"]},
                }
            )
    for e in out:
        e["verdict"] = verdict(e["ci95"], target)
        e["line"] = target_line(e)
    return out


def write_record(
    target: Any, sweeps: Sequence[Any], ranked: Any, targets: list[dict], load: Callable[[str, str], dict | None]
) -> dict[str, Any]:
    """Write ``summary.json`` and ``decisions.npz`` beside the page; returns {file: size in bytes}."""
    arrays = {}
    done = ranked[ranked["status"] == "completed"] if len(ranked) else ranked
    if len(done):  # the trials the page's verdicts and headline numbers use, not all 1,000 of a big sweep
        used = done["rank"] <= TOP_DECISIONS
        for col in ("tied_with_first",):
            if col in done.columns:
                used |= done[col].fillna(False).astype(bool)
        if "stage" in done.columns:
            used |= done["stage"] != "sweep"
        done = done[used]
    for _, row in done.iterrows():
        found = decisions(load, str(row["location"]))
        if found is not None:
            arrays[f"{row['sweep']}/{row['trial_id']}/correct"] = found[0].astype(bool)
            arrays[f"{row['sweep']}/{row['trial_id']}/fold"] = found[1].astype(np.int16)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    from .paths import portable_record

    summaries = [portable_record(s.summary) for s in sweeps]
    record = dict(summaries[0]) if len(summaries) == 1 else {"sweeps": summaries}
    record.update(targets=targets, decisions={"file": DECISIONS, "bytes": buf.tell(), "trials": len(arrays) // 2})
    text = json.dumps(record, indent=1, allow_nan=True, default=str)
    target.join(DECISIONS).write_bytes(buf.getvalue())
    target.join(RECORD).write_bytes(text.encode("utf-8"))
    return {DECISIONS: buf.tell(), RECORD: len(text)}
