"""The report pipeline: collect -> tables -> Parquet -> statistics -> plots -> HTML."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import history, html, plots, stats, tables, worker
from .collect import Collection, collect
from .storage import Location, resolve


def build(run_dirs: list[str | os.PathLike], out: str | os.PathLike, *, title: str | None = None) -> Path | str:
    data = collect(run_dirs)
    inline = len(data.trials) < WORKER_MIN_TRIALS
    history_job = _start_history(data, inline=inline)
    arrow = tables.build_tables(data.trials)
    target = resolve(out)
    tables.write_tables(arrow, target)
    frames = {name: t.to_pandas() for name, t in arrow.items()}
    notes = list(data.notes) + [n for t in data.trials for n in t.notes]
    ranked = stats.rank_trials(frames["trials"]) if len(frames["trials"]) else frames["trials"].assign(rank=[])
    notes += stats.missing_notes(ranked)
    compare_job = _start_compare(ranked, inline=inline)
    figures = _figures(ranked, frames, notes, inline=inline) + _finish_history(history_job, notes)
    stats_html = _statistics(ranked, frames, notes, compare_job)
    summary = _summary(data, ranked, arrow)
    page = html.render(title=title or _title(data), sources=[os.fspath(r) for r in run_dirs], ranked=ranked,
                       plots=figures, stats_html=stats_html, notes=notes, summary=summary)
    index = target.join("index.html")
    index.write_bytes(page.encode("utf-8"))
    return index.local_path() or index.uri


def _title(data: Collection) -> str:
    names = sorted({s.name for s in data.sweeps} or {t.sweep or t.trial_id for t in data.trials})
    return "facebench report: " + (", ".join(names[:4]) + (" …" if len(names) > 4 else "") if names else "no trials")


# Below this many trials a worker's imports (~1.3 s CPU each) cost more than the work it takes over.
WORKER_MIN_TRIALS = 200
FIGURES = ("ranked trials", "factors", "training curves", "VAE components", "rate-distortion", "ROC",
           "score distributions", "confusion", "reconstructions", "accuracy against cost")
# Drawn by a worker process while this one draws the rest: about half the drawing time each.
WORKER_FIGURES = ("factors", "training curves", "confusion", "accuracy against cost")


def _figures(ranked: pd.DataFrame, f: dict[str, pd.DataFrame], notes: list[str], *, inline: bool) -> list[Any]:
    if ranked.empty:
        return []
    local = [n for n in FIGURES if n not in WORKER_FIGURES]
    job = worker.start("facebench.report.build:draw", list(WORKER_FIGURES), ranked, f, inline=inline)
    mine, my_notes = draw(local, ranked, f)
    theirs, their_notes = _finish(job, "figures " + ", ".join(WORKER_FIGURES), notes) or ({}, [])
    notes += my_notes + their_notes
    both = {**mine, **theirs}
    return [p for name in FIGURES for p in both.get(name, [])]


def draw(names: list[str], ranked: pd.DataFrame, f: dict[str, pd.DataFrame]) -> tuple[dict[str, list], list[str]]:
    """The named figures (name -> plots) and notes; module-level so a worker process can run it."""
    notes: list[str] = []
    load = _npz_loader(notes)
    jobs: dict[str, Callable[[], list]] = {
        "ranked trials": lambda: plots.plot_ranked(ranked, f["folds"]),
        "factors": lambda: plots.plot_factors(ranked),
        "training curves": lambda: plots.plot_curves(ranked, f["epochs"]),
        "VAE components": lambda: plots.plot_vae_components(ranked, f["epochs"]),
        "rate-distortion": lambda: plots.plot_rate_distortion(ranked, f["epochs"]),
        "ROC": lambda: plots.plot_roc(ranked, f["roc"]),
        "score distributions": lambda: plots.plot_distances(ranked, load),
        "confusion": lambda: plots.plot_confusion(ranked, f["confusion"]),
        "reconstructions": lambda: _recon_grids(ranked, notes),
        "accuracy against cost": lambda: plots.plot_pareto(ranked),
    }
    out = {}
    for name in names:
        try:
            out[name] = jobs[name]()
        except Exception as e:  # one broken figure must not lose the tables and the other figures
            notes.append(f"figure '{name}' failed: {type(e).__name__}: {e}")
    return out, notes


def _start_history(data: Collection, *, inline: bool) -> worker.Job | None:
    """Optuna figures in a child process: importing Optuna and scikit-learn and fitting importances take seconds of
    CPU and need nothing the tables need, so they run beside the tables."""
    sweeps = [s for s in data.sweeps if s.study is not None]
    return worker.start("facebench.report.history:plot_histories", sweeps, inline=inline) if sweeps else None


def _finish(job: worker.Job | None, what: str, notes: list[str]) -> Any:
    if job is None:
        return None
    try:
        return job.result()
    except Exception as e:  # a dead worker must not lose the report
        notes.append(f"{what} failed: {type(e).__name__}: {e}")
        return None


def _finish_history(job: worker.Job | None, notes: list[str]) -> list[Any]:
    figs, more = _finish(job, "sweep history figures", notes) or ([], [])
    notes += more
    return figs


def load_npz(path: str, name: str) -> dict | None:
    """``<path>/artefacts/<name>`` as a dict of arrays, None if unreadable (picklable, for the worker)."""
    loc = resolve(path).join("artefacts", name)
    try:
        with np.load(io.BytesIO(loc.read_bytes()), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None


def _npz_loader(notes: list[str]) -> Callable[[str, str], dict | None]:
    def load(path: str, name: str) -> dict | None:
        arrays = load_npz(path, name)
        if arrays is None and resolve(path).join("artefacts", name).info().type.name == "File":
            notes.append(f"{path}: artefacts/{name} is unreadable")  # absent artefacts are not news
        return arrays
    return load


def _recon_grids(ranked: pd.DataFrame, notes: list[str]) -> list[plots.Plot]:
    out = []
    for _, r in ranked[(ranked["task"] == "autoencoder") & (ranked["status"] == "completed")].iterrows():
        loc: Location = resolve(r["path"]).join("artefacts", "recon.png")
        if loc.info().type.name != "File":
            continue
        data = loc.read_bytes()
        if not data.startswith(b"\x89PNG"):
            notes.append(f"{loc.uri}: not a PNG file; skipped")
            continue
        out.append(plots.Plot("recon", f"Reconstructions: {plots.trial_label(r)}", data,
                              "top row: inputs, bottom row: reconstructions"))
        if len(out) >= plots.TOP_RECON:
            break
    return out


def _start_compare(ranked: pd.DataFrame, *, inline: bool) -> worker.Job | None:
    """The paired bootstrap of the top trials in a child process, while this one draws the figures."""
    if ranked.empty:
        return None
    cand = ranked[(ranked["status"] == "completed") & (ranked["task"] != "cifar")]
    cols = ["rank", "sweep", "trial_id", "name", "path", "status", "task"]
    return worker.start("facebench.report.stats:paired_comparison", cand[cols].head(20), load_npz, inline=inline)


def _statistics(ranked: pd.DataFrame, f: dict[str, pd.DataFrame], notes: list[str],
                compare_job: worker.Job | None) -> str:
    parts = ["<h3>Over folds (mean ± std of per-fold accuracy)</h3>"]
    folds = stats.fold_summary(f["folds"])
    if len(ranked) and len(folds):
        folds = folds.merge(ranked[["sweep", "trial_id", "rank", "name"]], on=["sweep", "trial_id"])
        folds = folds.sort_values(["rank", "split"])
    parts.append(html.table(folds, [("rank", "#"), ("sweep", "sweep"), ("trial_id", "trial"), ("name", "name"),
                                    ("split", "split"), ("fold_mean", "mean"), ("fold_std", "std"),
                                    ("folds", "folds")], sortable=True))
    parts.append("<h3>Over seeds (completed trials grouped by config without seed)</h3>")
    seeds = stats.seed_summary(ranked) if len(ranked) else pd.DataFrame()
    parts.append(html.table(seeds, [("recipe", "recipe"), ("task", "task"), ("n_seeds", "n"), ("seeds", "seeds"),
                                    ("val_mean", "val mean"), ("val_std", "val std"),
                                    ("score_mean", "test mean"), ("score_std", "test std")], sortable=True))
    parts.append("<h3>Paired comparison: the best trial by validation rank against the next ones "
                 "(test pairs; paired bootstrap 95% CI of the accuracy difference, McNemar)</h3>")
    cmp_table, cmp_notes = _finish(compare_job, "paired comparison", notes) or (None, ["no trials to compare"])
    if cmp_table is not None:
        parts.append(html.table(cmp_table, [(c, c) for c in cmp_table.columns], sortable=True))
    parts += [f'<p class="empty">{html.esc(n)}</p>' for n in cmp_notes]
    notes += cmp_notes
    return "".join(parts)


def _summary(data: Collection, ranked: pd.DataFrame, arrow: dict) -> dict[str, Any]:
    done = ranked[ranked["status"] == "completed"] if len(ranked) else ranked
    return {"n_trials": len(ranked), "n_sweeps": len(data.sweeps),
            "status": ranked["status"].value_counts().to_dict() if len(ranked) else {},
            "best": done.iloc[0].to_dict() if len(done) else None, "tables": list(arrow),
            "schema_version": tables.SCHEMA_VERSION}
