"""Two sections: which hyperparameters matter (effects.py), and the statistics: spread over folds and over seeds,
and the paired comparison of the top trials on the same test pairs."""

from __future__ import annotations

import pandas as pd

from . import effects, stats
from .arrays import load_npz
from .html import esc, table
from .section import Inputs, Section

FOLD_COLUMNS = (
    ("rank", "#"),
    ("sweep", "sweep"),
    ("trial_id", "trial"),
    ("name", "name"),
    ("split", "split"),
    ("fold_mean", "mean"),
    ("fold_std", "std"),
    ("folds", "folds"),
)
# The single-seed comparison shows differences and discordant counts only: no p-value, no interval (docs/report.md).
EXPLORATORY_COLUMNS = (
    ("a", "a"),
    ("b", "b"),
    ("accuracy_a", "test accuracy a"),
    ("accuracy_b", "test accuracy b"),
    ("mean_diff", "a − b (one seed each)"),
    ("only_a_correct", "only a right"),
    ("only_b_correct", "only b right"),
)
SEED_COLUMNS = (
    ("recipe", "recipe"),
    ("task", "task"),
    ("n_seeds", "n"),
    ("seeds", "seeds"),
    ("val_mean", "objective mean"),
    ("val_std", "objective std"),
    ("score_mean", "test mean"),
    ("score_std", "test std"),
)


def effects_section(i: Inputs) -> Section:
    notes: list[str] = []
    return Section(
        "effects",
        "Which hyperparameters matter",
        _effects(i, notes),
        notes=tuple(notes),
        empty=f"no sweep with at least {effects.MIN_TRIALS} trials that reached a common epoch and a "
        "config key that varies among them",
    )


def statistics(i: Inputs) -> Section:
    notes: list[str] = []
    parts = [_over_folds(i), _over_seeds(i.ranked)]
    parts.append(
        "<h3>Exploratory: the best trial by validation rank against the next ones, one seed each (test pairs)</h3>"
    )
    cmp_table, cmp_notes = _compare(i.ranked, notes)
    if cmp_table is not None:
        parts.append(table(cmp_table, EXPLORATORY_COLUMNS, sortable=True))
        parts.append(
            '<p class="note">Exploratory, not a test: each trial ran one seed, and the same configuration '
            "under another seed moves by more than these pairs can show, so no p-value is given here. "
            "Which recipe wins is the confirmation stage's answer (<code>facebench confirm RUN_DIR</code>: the "
            "top configurations over new seeds, the section at the top of the page).</p>"
        )
    parts += [f'<p class="empty">{esc(n)}</p>' for n in cmp_notes]
    return Section("statistics", "Statistics", "".join(parts), notes=tuple(notes + cmp_notes))


def _effects(i: Inputs, notes: list[str]) -> str:
    if i.ranked.empty:
        return ""
    try:
        return effects.effects_html(i.ranked, i.frames["epochs"])
    except Exception as e:  # a statistic that cannot be computed must not lose the report
        notes.append(f"which hyperparameters matter failed: {type(e).__name__}: {e}")
        return ""


def _over_folds(i: Inputs) -> str:
    folds = stats.fold_summary(i.frames["folds"])
    if len(i.ranked) and len(folds):
        folds = folds.merge(i.ranked[["sweep", "trial_id", "rank", "name"]], on=["sweep", "trial_id"])
        folds = folds.sort_values(["rank", "split"])
    return "<h3>Over folds (mean ± std of per-fold accuracy)</h3>" + table(folds, FOLD_COLUMNS, sortable=True)


def _over_seeds(ranked: pd.DataFrame) -> str:
    head = "<h3>Over seeds (completed trials grouped by config without seed)</h3>"
    seeds = stats.seed_summary(ranked) if len(ranked) else pd.DataFrame()
    if seeds.empty or seeds["n_seeds"].max() < 2:
        # n = 1 everywhere: a std of 0 would read as "perfectly reproducible" when nothing was repeated.
        return head + (
            '<p class="empty">no configuration ran with more than one seed, so there is no spread over '
            "seeds to show; re-run the top configurations over seeds to see it</p>"
        )
    return head + table(seeds[seeds["n_seeds"] >= 2], SEED_COLUMNS, sortable=True)


def _compare(ranked: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
    """The paired bootstrap of the top trials (a few tenths of a second)."""
    if ranked.empty:
        return None, ["no trials to compare"]
    cand = ranked[(ranked["status"] == "completed") & (ranked["task"] != "cifar")]
    cols = ["rank", "sweep", "trial_id", "name", "location", "status", "task"]
    try:
        return stats.paired_comparison(cand[cols].head(20), load_npz)
    except Exception as e:  # a broken artefact must not lose the report
        notes.append(f"paired comparison failed: {type(e).__name__}: {e}")
        return None, []
