"""The papers' table: one row per recipe, one column per verification set (LFW, CFP-FP, AgeDB-30, CALFW, CPLFW, then
any other set), accuracy ± std over the set's folds in percent, and the mean over the sets.

Rows come in the report's ranking, which is by validation: the table shows the sets, it never chooses by them.
Its input is the per-set rows the engine writes for ``eval.sets`` (trial_id, set, accuracy_mean, accuracy_std).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .html import esc
from .names import KEYS, display_name

# The five standard benchmarks by set name (InsightFace's file stems), in the order papers print them.
PAPER_NAMES = {"lfw": "LFW", "cfp_fp": "CFP-FP", "agedb_30": "AgeDB-30", "calfw": "CALFW", "cplfw": "CPLFW"}


def set_columns(sets: pd.DataFrame) -> list[str]:
    present = set(sets["set"])
    return [s for s in PAPER_NAMES if s in present] + sorted(present - set(PAPER_NAMES))


def recipe(row: Any) -> str:
    """A trial's label: its name, else backbone · loss · schedule (the factors the papers' rows differ in)."""
    name = row.get("name")
    if isinstance(name, str) and name:
        return name
    parts = [display_name(KEYS[k], row.get(k)) for k in ("cfg.model.backbone", "cfg.loss.name", "cfg.schedule.name")]
    return " · ".join(str(p) for p in parts if isinstance(p, str) and p) or str(row.get("trial_id"))


def paper_rows(sets: pd.DataFrame, ranked: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    """(set columns, rows); a row has ``recipe``, ``trial_id``, per set (mean, std) or None, and ``mean`` (over the
    sets the trial was tested on, None if it misses one of the columns)."""
    if sets is None or not len(sets):
        return [], []
    columns = set_columns(sets)
    by_trial = {t: g.set_index("set") for t, g in sets.groupby("trial_id")}
    rows = []
    for _, r in ranked.iterrows():
        got = by_trial.get(r["trial_id"])
        if got is None:
            continue
        cells = {
            s: (float(got.at[s, "accuracy_mean"]), float(got.at[s, "accuracy_std"])) if s in got.index else None
            for s in columns
        }
        means = [c[0] for c in cells.values() if c is not None]
        rows.append(
            {
                "recipe": recipe(r),
                "trial_id": r["trial_id"],
                **cells,
                "mean": sum(means) / len(means) if len(means) == len(columns) else None,
            }
        )
    return columns, rows


def _cell(c: tuple[float, float] | None) -> str:
    return "–" if c is None else f"{100 * c[0]:.2f} ± {100 * c[1]:.2f}"


def _mean(row: dict[str, Any]) -> str:
    return "–" if row["mean"] is None else f"{100 * row['mean']:.2f}"


def paper_html(columns: list[str], rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="empty">no trial was tested on eval.sets</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in ["recipe", "trial", *(PAPER_NAMES.get(c, c) for c in columns), "mean"])
    body = "".join(
        "<tr>"
        + f"<td>{esc(r['recipe'])}</td><td>{esc(r['trial_id'])}</td>"
        + "".join(f'<td class="num">{esc(_cell(r[c]))}</td>' for c in columns)
        + f'<td class="num">{_mean(r)}</td></tr>'
        for r in rows
    )
    note = (
        "<p>Verification accuracy (%) ± std over each set's folds (10 contiguous folds for a .bin); mean over "
        "the sets. Rows in the validation ranking: no set here chose a model.</p>"
    )
    return f'{note}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def paper_markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The same table as Markdown, to paste into a paper or an issue."""
    heads = ["recipe", *(PAPER_NAMES.get(c, c) for c in columns), "mean"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        lines.append(
            "| " + " | ".join([r["recipe"].replace("|", "\\|"), *(_cell(r[c]) for c in columns), _mean(r)]) + " |"
        )
    return "\n".join(lines) + "\n"
