"""The report pipeline: collect -> tables -> Parquet -> statistics -> plots -> HTML."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from facebench import artefacts
from facebench.errors import DataError

from . import confirmation, effects, extras, history, html, paper, plots, stats, tables
from .collect import Collection, collect, is_replayed
from .storage import Location, resolve


def build(run_dirs: list[str | os.PathLike], out: str | os.PathLike, *, title: str | None = None,
          references: list[tuple[str, float]] | None = None, summary_notes: list[str] | None = None,
          target_score: float | None = None) -> Path | str:
    data = collect(run_dirs)
    replayed = bool(data.trials) and all(map(is_replayed, data.trials))   # collect() refused a mix of both
    title = ("REPLAYED trials, no training: " if replayed else "") + (title or _title(data))
    # Big reports use one helper process: it imports Optuna, pandas and matplotlib and draws the sweep history
    # while this process reads the tables, then draws half of the figures.
    with _executor(len(data.trials)) as helper:
        history_job = _start_history(data, helper)
        arrow, table_notes = tables.build_tables(data.trials)
        target = resolve(out)
        tables.write_tables(arrow, target)
        frames = {name: t.to_pandas() for name, t in arrow.items()}
        notes = list(data.notes) + [n for t in data.trials for n in t.notes] + table_notes
        if replayed:
            notes.insert(0, "REPLAYED: every trial here replays recorded learning curves (facebench/sweep/replay.py); "
                            "no model was trained, and no number here is a result (docs/scale.md)")
        ranked = stats.rank_trials(frames["trials"]) if len(frames["trials"]) else frames["trials"].assign(rank=[])
        notes += stats.missing_notes(ranked)
        figures, stats_html, stats_notes = _figures_and_statistics(ranked, frames, notes, helper)
        figures += _finish_history(history_job, notes)
        figures += extras.plot_families(ranked, references or [])
        notes += stats_notes  # the page lists them in the order of its sections
    best_config = _write_best(data, ranked, target)
    summary = _summary(data, ranked, arrow)
    summary.update(budget=extras.budget_lines(data.sweeps, ranked), user_notes=list(summary_notes or []),
                   target=extras.target_lines(target_score, data.sweeps, ranked),
                   references=references or [], best_config=best_config)
    sets_html = _papers_table(frames.get("sets"), ranked, target)
    page = html.render(title=title, sources=[os.fspath(r) for r in run_dirs], ranked=ranked,
                       plots=figures, stats_html=stats_html, notes=notes, summary=summary, sets_html=sets_html,
                       headline=confirmation.headline(data.sweeps))
    index = target.join("index.html")
    index.write_bytes(page.encode("utf-8"))
    return index.local_path() or index.uri


class _Inline(Executor):
    """Runs each call at once in this process: small reports, where a helper's imports cost more than it saves."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - delivered through the future, as a process pool would
            future.set_exception(e)
        return future


def _executor(n_trials: int) -> Executor:
    if n_trials < HELPER_MIN_TRIALS:
        return _Inline()
    # spawn, not fork: the caller may hold threads (a Ray driver, pyarrow's pools) that a fork would copy mid-lock.
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _papers_table(sets: pd.DataFrame | None, ranked: pd.DataFrame, target: Location) -> str:
    """The papers' table for the page, and as ``paper_table.md`` beside it when any trial ran eval.sets."""
    columns, rows = paper.paper_rows(sets, ranked)
    if rows:
        target.join("paper_table.md").write_bytes(paper.paper_markdown(columns, rows).encode("utf-8"))
    return paper.paper_html(columns, rows)


def _title(data: Collection) -> str:
    names = sorted({s.name for s in data.sweeps} or {t.sweep or t.trial_id for t in data.trials})
    return "facebench report: " + (", ".join(names[:4]) + (" …" if len(names) > 4 else "") if names else "no trials")


# Below this many trials the helper's imports (~1.5 s CPU) cost more than the work it takes over.
HELPER_MIN_TRIALS = 200
FIGURES = ("ranked trials", "factors", "training curves", "VAE components", "rate-distortion", "VAE beta terms",
           "ROC", "score distributions", "confusion", "reconstructions", "accuracy against cost")
# Drawn by the helper once the history is done, while this process draws the rest and the statistics.
HELPER_FIGURES = ("factors", "training curves", "VAE components", "rate-distortion", "VAE beta terms", "confusion",
                  "accuracy against cost")
# The tables each of those figures reads (the rest is not sent).
_HELPER_FRAMES = ("epochs", "confusion")


def _figures_and_statistics(ranked: pd.DataFrame, f: dict[str, pd.DataFrame], notes: list[str],
                            helper: Executor) -> tuple[list[Any], str, list[str]]:
    """The figures (half of them drawn by the helper meanwhile), the statistics section and its notes."""
    stats_notes: list[str] = []
    if ranked.empty:
        return [], _statistics(ranked, f, stats_notes), stats_notes
    local = [n for n in FIGURES if n not in HELPER_FIGURES]
    job = helper.submit(draw, list(HELPER_FIGURES), ranked, {k: f[k] for k in _HELPER_FRAMES})
    # The helper has scipy.stats loaded already (Optuna's importances); here it would cost a second or two to import.
    effects_job = helper.submit(effects.effects_html, ranked, f["epochs"])
    mine, my_notes = draw(local, ranked, f)
    stats_html = _statistics(ranked, f, stats_notes)  # while the helper still draws
    theirs, their_notes = _finish(job, "figures " + ", ".join(HELPER_FIGURES), notes) or ({}, [])
    stats_html = (_finish(effects_job, "which hyperparameters matter", notes) or "") + stats_html
    notes += my_notes + their_notes
    both = {**mine, **theirs}
    return [p for name in FIGURES for p in both.get(name, [])], stats_html, stats_notes


def draw(names: list[str], ranked: pd.DataFrame, f: dict[str, pd.DataFrame]) -> tuple[dict[str, list], list[str]]:
    """The named figures (name -> plots) and notes; module-level so the helper process can run it."""
    notes: list[str] = []
    load = _npz_loader(notes)
    jobs: dict[str, Callable[[], list]] = {
        "ranked trials": lambda: plots.plot_ranked(ranked, f["folds"]),
        "factors": lambda: plots.plot_factors(ranked),
        "training curves": lambda: plots.plot_curves(ranked, f["epochs"]),
        "VAE components": lambda: plots.plot_vae_components(ranked, f["epochs"]),
        "rate-distortion": lambda: plots.plot_rate_distortion(ranked, f["epochs"]),
        "VAE beta terms": lambda: extras.plot_beta_terms(ranked, f["epochs"]),
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


def _start_history(data: Collection, helper: Executor) -> Future | None:
    """Optuna figures in the helper: importing Optuna and fitting importances take a second or two of CPU and
    need nothing the tables need, so they run beside the tables."""
    sweeps = [s for s in data.sweeps if s.study is not None]
    return helper.submit(history.plot_histories, sweeps) if sweeps else None


def _finish(job: Future | None, what: str, notes: list[str]) -> Any:
    if job is None:
        return None
    try:
        return job.result()
    except Exception as e:  # a failed step, or a dead helper (BrokenProcessPool), must not lose the report
        notes.append(f"{what} failed: {type(e).__name__}: {e}")
        return None


def _finish_history(job: Future | None, notes: list[str]) -> list[Any]:
    figs, more = _finish(job, "sweep history figures", notes) or ([], [])
    notes += more
    return figs


def load_npz(path: str, name: str) -> dict | None:
    """``<path>/artefacts/<name>`` as a dict of arrays, None if absent or unreadable."""
    loc = resolve(path).join(artefacts.ARTEFACTS, name)
    try:
        return artefacts.load_npz(loc.read_bytes(), name=loc.uri)
    except (OSError, DataError):
        return None


def _npz_loader(notes: list[str]) -> Callable[[str, str], dict | None]:
    def load(path: str, name: str) -> dict | None:
        arrays = load_npz(path, name)
        if arrays is None and resolve(path).join(artefacts.ARTEFACTS, name).info().type.name == "File":
            notes.append(f"{path}: artefacts/{name} is unreadable")  # absent artefacts are not news
        return arrays
    return load


def _recon_grids(ranked: pd.DataFrame, notes: list[str]) -> list[plots.Plot]:
    """The top trials' reconstructions; where the latent size varies, the best trial of each latent size in
    order of size, so blur can be read against the latent size."""
    out = []
    rows = ranked[(ranked["task"] == "autoencoder") & (ranked["status"] == "completed")]
    by_latent = "cfg.model.embedding_size" in rows.columns and rows["cfg.model.embedding_size"].nunique() > 1
    if by_latent:
        rows = rows[rows["cfg.model.embedding_size"].notna()]
        rows = rows.drop_duplicates("cfg.model.embedding_size").sort_values("cfg.model.embedding_size")
    for _, r in rows.iterrows():
        loc: Location = resolve(r["path"]).join(artefacts.ARTEFACTS, "recon.png")
        if loc.info().type.name != "File":
            continue
        data = loc.read_bytes()
        if not data.startswith(b"\x89PNG"):
            notes.append(f"{loc.uri}: not a PNG file; skipped")
            continue
        latent = f"latent {int(r['cfg.model.embedding_size'])}, " if by_latent else ""
        out.append(plots.Plot("recon", f"Reconstructions: {latent}{plots.trial_label(r)}", data,
                              "top row: inputs, bottom row: reconstructions"))
        if len(out) >= plots.TOP_RECON:
            break
    return out


def _statistics(ranked: pd.DataFrame, f: dict[str, pd.DataFrame], notes: list[str]) -> str:
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
    if seeds.empty or seeds["n_seeds"].max() < 2:
        # n = 1 everywhere: a std of 0 would read as "perfectly reproducible" when nothing was repeated.
        parts.append('<p class="empty">no configuration ran with more than one seed, so there is no spread over '
                     "seeds to show; re-run the top configurations over seeds to see it</p>")
    else:
        cols = [("recipe", "recipe"), ("task", "task"), ("n_seeds", "n"), ("seeds", "seeds"),
                ("val_mean", "objective mean"), ("val_std", "objective std"), ("score_mean", "test mean"),
                ("score_std", "test std")]
        parts.append(html.table(seeds[seeds["n_seeds"] >= 2], cols, sortable=True))
    parts.append("<h3>Paired comparison: the best trial by validation rank against the next ones "
                 "(test pairs; paired bootstrap 95% CI of the accuracy difference, McNemar)</h3>")
    cmp_table, cmp_notes = _compare(ranked, notes)
    if cmp_table is not None:
        parts.append(html.table(cmp_table, [(c, c) for c in cmp_table.columns], sortable=True))
    parts += [f'<p class="empty">{html.esc(n)}</p>' for n in cmp_notes]
    notes += cmp_notes
    return "".join(parts)


def _compare(ranked: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame | None, list[str]]:
    """The paired bootstrap of the top trials (a few tenths of a second: not worth a process)."""
    if ranked.empty:
        return None, ["no trials to compare"]
    cand = ranked[(ranked["status"] == "completed") & (ranked["task"] != "cifar")]
    cols = ["rank", "sweep", "trial_id", "name", "path", "status", "task"]
    try:
        return stats.paired_comparison(cand[cols].head(20), load_npz)
    except Exception as e:  # a broken artefact must not lose the report
        notes.append(f"paired comparison failed: {type(e).__name__}: {e}")
        return None, []


def _write_best(data: Collection, ranked: pd.DataFrame, target: Location) -> str | None:
    """``best.toml`` beside the page: the #1 trial's complete configuration (extras.best_config)."""
    b = extras.best_row(ranked)
    if b is None:
        return None
    rec = next((t for t in data.trials if (t.sweep, t.trial_id) == (b["sweep"], b["trial_id"])), None)
    if rec is None:
        return None
    target.join(extras.BEST_CONFIG).write_bytes(extras.best_config(b, rec.config).encode("utf-8"))
    return extras.BEST_CONFIG


def _summary(data: Collection, ranked: pd.DataFrame, arrow: dict) -> dict[str, Any]:
    done = ranked[ranked["status"] == "completed"] if len(ranked) else ranked
    return {"n_trials": len(ranked), "n_sweeps": len(data.sweeps),
            "status": ranked["status"].value_counts().to_dict() if len(ranked) else {},
            "best": done.iloc[0].to_dict() if len(done) else None, "tables": list(arrow),
            "schema_version": tables.SCHEMA_VERSION}
