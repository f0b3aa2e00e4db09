"""The report pipeline: collect -> tables -> Parquet -> ranked trials -> sections -> one HTML page.

Each section of the page is one function of the same ``Inputs`` (facebench/report/section.py); ``SECTIONS`` is
the page's order. The files beside the page (tables, ``best.toml``, ``paper_table.md``) are written here, before
the sections, which only read.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from facebench.storage import Location, resolve

from . import html, paper, sections, statistics, stats, summary, tables
from .best import BEST_CONFIG, best_config, best_row, run_command
from .collect import Collection, collect, is_replayed
from .flags import allowed_test_image_notes
from .front import front_section
from .paths import scrub, scrubber, shown_source
from .section import Inputs, Options, Section

SECTIONS = (
    summary.confirmation_section,
    summary.summary,
    sections.ranked,
    summary.papers_table,
    sections.factors,
    sections.curves,
    sections.vae_section,
    sections.roc,
    sections.confusion,
    sections.reconstructions,
    sections.sweep_history,
    front_section,
    sections.pareto,
    statistics.effects_section,
    statistics.statistics,
)
# No helper process: on the 1,000-trial bench (tests/bench/bench_report.py) drawing every section here takes the
# same wall time as a helper process drawing half of them, and ~20% less CPU (a helper re-imports the libraries and
# is sent pickled tables).


def build(run_dirs: list[str | os.PathLike], out: str | os.PathLike, options: Options) -> Path | str:
    data = collect(run_dirs)
    arrow, table_notes = tables.build_tables(data.trials)
    target = resolve(out)
    tables.write_tables(arrow, target)
    frames = {name: t.to_pandas() for name, t in arrow.items()}
    ranked = _ranked(frames["trials"], data)
    inputs = Inputs(
        data=data,
        ranked=ranked,
        frames=frames,
        options=options,
        sources=tuple(shown_source(os.fspath(r)) for r in run_dirs),
        files=_write_files(data, ranked, frames.get("sets"), target),
    )
    done = [section(inputs) for section in SECTIONS]
    notes = list(data.notes) + [n for t in data.trials for n in t.notes] + table_notes + stats.missing_notes(ranked)
    notes += [n for s in done for n in s.notes] + allowed_test_image_notes(data.trials)
    title = options.title or _title(data)
    if data.trials and all(map(is_replayed, data.trials)):  # collect() refused a mix of both
        title = f"REPLAYED trials, no training: {title}"
        notes.insert(
            0,
            "REPLAYED: every trial here replays recorded learning curves (facebench/sweep/replay.py); "
            "no model was trained, and no number here is a result (docs/scale.md)",
        )
    page = html.render(title, _portable(done, notes, run_dirs))
    index = target.join("index.html")
    index.write_bytes(page.encode("utf-8"))
    _record(data, ranked, options, target)
    return index.local_path() or index.uri


def _record(data: Collection, ranked: pd.DataFrame, options: Options, target: Location) -> None:
    """summary.json and decisions.npz beside the page: what ``facebench report --check`` recomputes it from."""
    from .arrays import load_npz
    from .record import target_entries, write_record

    entries = target_entries(options.target, data.sweeps, ranked, load_npz) if options.target is not None else []
    write_record(target, data.sweeps, ranked, entries, load_npz)


def _ranked(trials: pd.DataFrame, data: Collection) -> pd.DataFrame:
    """The trials table ranked by the sweep's objective, with each trial's ``location`` (where its folder is, to
    read its arrays and images; the written table keeps only its path relative to the sweep)."""
    trials = trials.assign(location=[t.loc.uri for t in data.trials])
    trials = stats.with_intervals(trials, data.sweeps)
    return stats.rank_trials(trials) if len(trials) else trials.assign(rank=[])


def _portable(done: list[Section], notes: list[str], run_dirs: list[str | os.PathLike]) -> list[Section]:
    """The sections and the notes with every absolute run directory (as typed, absolute or ``file://``) replaced
    by the name the summary gives it: messages quote paths, the page shows none of this machine's."""
    pairs = scrubber(os.fspath(r) for r in run_dirs)
    fixed = [dataclasses.replace(s, html=scrub(s.html, pairs)) for s in done]
    return fixed + [summary.notes_section([scrub(n, pairs) for n in notes])]


def _write_files(data: Collection, ranked: pd.DataFrame, sets: pd.DataFrame | None, target: Location) -> dict[str, str]:
    """``best.toml`` (the #1 trial's configuration) and, when any trial ran eval.sets, ``paper_table.md``."""
    files = {}
    b = best_row(ranked)
    rec = None if b is None else next((t for t in data.trials if t.loc.uri == b["location"]), None)
    if rec is not None:
        target.join(BEST_CONFIG).write_bytes(best_config(b, rec.config).encode("utf-8"))
        files["best_config"], files["best_command"] = BEST_CONFIG, run_command(rec.config)
    columns, rows = paper.paper_rows(sets, ranked)
    if rows:
        target.join("paper_table.md").write_bytes(paper.paper_markdown(columns, rows).encode("utf-8"))
        files["paper_table"] = "paper_table.md"
    return files


def _title(data: Collection) -> str:
    names = sorted({s.name for s in data.sweeps} or {t.sweep or t.trial_id for t in data.trials})
    return "facebench report: " + (", ".join(names[:4]) + (" …" if len(names) > 4 else "") if names else "no trials")
