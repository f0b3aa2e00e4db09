"""The page's opening and closing sections: the confirmation stage's verdicts, the summary (sources, counts, the
best trial, budget, targets, references, best.toml, tables), the papers' table, and the notes of every section."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from . import confirmation, paper, tables, targets
from .html import cell, esc
from .section import Inputs, Section


def confirmation_section(i: Inputs) -> Section:
    return Section(
        "confirmation",
        "Which recipe wins (confirmation over new seeds)",
        confirmation.headline(i.data.sweeps),
        optional=True,
    )


def summary(i: Inputs) -> Section:
    ranked = i.ranked
    status = ranked["status"].value_counts().to_dict() if len(ranked) else {}
    done = ranked[ranked["status"] == "completed"] if len(ranked) else ranked
    items = [
        _sources(i.sources),
        f"<li>{esc(len(ranked))} trials in {esc(len(i.data.sweeps))} sweep(s): "
        + (", ".join(f"{esc(n)} {esc(k)}" for k, n in status.items()) or "none")
        + "</li>",
        _best(done.iloc[0].to_dict()) if len(done) else '<li class="note">no completed trials</li>',
    ]
    items += [f"<li>budget: {esc(line)}</li>" for line in targets.budget_lines(i.data.sweeps, ranked)]
    items += [f"<li>{esc(line)}</li>" for line in targets.version_lines(ranked)]
    items += [f"<li>{esc(line)}</li>" for line in i.options.notes]
    items += [f"<li><b>{esc(line)}</b></li>" for line in targets.target_lines(i.options.target, i.data.sweeps, ranked)]
    items += [f"<li><b>{esc(line)}</b></li>" for line in targets.calibration_lines(i.data.sweeps)]
    items += [f"<li>reference: {esc(label)} <b>{value:.4f}</b></li>" for label, value in i.options.references]
    best = i.files.get("best_config")
    if best:
        items.append(
            f'<li>the best trial\'s configuration: <a href="{esc(best)}"><code>{esc(best)}</code></a> '
            f"(<code>{esc(i.files.get('best_command', ''))}</code> re-runs it)</li>"
        )
    items.append(
        f"<li>tables: {', '.join(f'<code>{esc(t)}.parquet</code>' for t in tables.TABLES)} "
        f"(schema version {esc(tables.SCHEMA_VERSION)}, see docs/report.md)</li>"
    )
    return Section("summary", "Summary", "<ul>" + "".join(items) + "</ul>")


def _sources(sources: Sequence[str]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<li>generated {esc(when)} from {len(sources)} run director{'y' if len(sources) == 1 else 'ies'}: "
        + ", ".join(f"<code>{esc(x)}</code>" for x in sources)
        + "</li>"
    )


def _best(b: dict[str, Any]) -> str:
    return (
        f"<li>best by the sweep's objective ({esc(b.get('objective_metric'))}, "
        f"{esc(b.get('objective_select'))} epoch): <b>{esc(b['name'] or b['trial_id'])}</b> "
        f"({esc(b['sweep'])}/{esc(b['trial_id'])}): {cell(b['objective'])[0]} ± "
        f"{cell(b.get('objective_se'))[0]}, {esc(b['score_metric'])} {cell(b['score'])[0]}</li>"
    )


def papers_table(i: Inputs) -> Section:
    columns, rows = paper.paper_rows(i.frames.get("sets"), i.ranked)
    return Section("sets", "Verification sets (papers' table)", paper.paper_html(columns, rows))


def notes_section(notes: Sequence[str]) -> Section:
    """Every note of the collection, the tables and the sections, in the order of the page."""
    html = "<ul>" + "".join(f'<li class="note">{esc(n)}</li>' for n in notes) + "</ul>" if notes else ""
    return Section("notes", "Missing data and notes", html, empty="nothing missing")
