"""One self-contained ``index.html``: images inlined as data URIs, inline CSS and a small vanilla-JS sorter.

Every string that came from a config, a name or a file is passed through ``html.escape``; the page embeds
no data in script blocks, so nothing a user typed can become code. It makes no network request.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone
from typing import Any, Iterable

import pandas as pd

from .plots import Plot

SECTIONS = (("confirmation", "Which recipe wins (confirmation over new seeds)"), ("summary", "Summary"),
            ("ranked", "Ranked trials"), ("sets", "Verification sets (papers' table)"),
            ("factors", "Factors"), ("curves", "Training curves"),
            ("vae", "VAE: loss components, rate–distortion, active units"), ("roc", "ROC and score distributions"),
            ("confusion", "Confusion matrices"), ("recon", "Reconstructions"), ("history", "Sweep history"),
            ("front", "Pareto front of the declared objectives (validation)"), ("pareto", "Accuracy against cost"), ("statistics", "Statistics"), ("notes", "Missing data and notes"))

# Why a section can be empty, said where it is empty (a heading over blank space reads as a bug).
EMPTY = {
    "ranked": "no trials found in these folders",
    "factors": "no completed trials, or none of backbone, loss, schedule, latent size, beta and image size varies "
               "among them",
    "curves": "no per-epoch results recorded",
    "vae": "no VAE trials (loss vae): plain and denoising autoencoders have no KL term, no beta and no posterior "
           "to collapse",
    "roc": "no completed verification trials (tasks face and autoencoder) with test pairs",
    "confusion": "no completed classification trials (task cifar)",
    "recon": "no completed autoencoder trials with a reconstruction grid",
    "history": "no Optuna study (study.db) with complete trials in these folders",
    "pareto": "no completed trials with a cost (FLOPs or training time) beside a test score",
}

RANKED_COLUMNS = (("rank", "#"), ("sweep", "sweep"), ("trial_id", "trial"), ("name", "name"), ("task", "task"),
                  ("status", "status"), ("cfg.model.backbone", "backbone"), ("cfg.loss.name", "loss"),
                  ("cfg.schedule.name", "schedule"), ("seed", "seed"), ("objective", "objective"),
                  ("objective_se", "± se"), ("tied_with_first", "tied with #1"),
                  ("score", "test score"), ("test_accuracy_std", "test std"), ("test_auc", "AUC"),
                  ("test_eer", "EER"), ("active_units", "active units"), ("flops", "FLOPs"), ("train_s", "train s"),
                  ("epochs_run", "epochs"), ("reason", "reason"))

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 2rem 3rem;color:#222;max-width:1400px}
h1{margin-top:1rem}h2{border-bottom:2px solid #ddd;padding-top:1rem}nav a{margin-right:.8rem}
table{border-collapse:collapse;font-size:12px;margin:.5rem 0}th,td{border:1px solid #ddd;padding:2px 6px}
th{background:#f3f3f3;position:sticky;top:0}table.sortable th{cursor:pointer;user-select:none}
th.asc::after{content:' ▲'}th.desc::after{content:' ▼'}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{color:#a00}tr.stopped td{color:#850}.scroll{max-height:32rem;overflow:auto}
figure{display:inline-block;margin:.5rem;vertical-align:top}figcaption{font-size:12px;color:#555;max-width:640px}
img{max-width:100%}.note{color:#850}.empty{color:#777;font-style:italic}
"""

# Click a header to sort; numbers by value (data-v), NaN/empty always last, text by locale order.
JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      t.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var num=th.dataset.type==='num', body=t.tBodies[0], rows=Array.prototype.slice.call(body.rows);
      function key(r){var c=r.cells[i];var v=c.dataset.v!==undefined?c.dataset.v:c.textContent;
        if(num){var x=parseFloat(v);return isNaN(x)?null:x;}return v===''?null:v;}
      rows.sort(function(a,b){var x=key(a),y=key(b);
        if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
        var d=num?x-y:String(x).localeCompare(String(y));return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _is_nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def cell(value: Any) -> tuple[str, bool]:
    """(escaped text, is_number) for one table cell."""
    if _is_nan(value):
        return "", False
    if isinstance(value, bool):
        return esc(value), False
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return esc(value), False
        if x.is_integer() and abs(x) < 1e6:
            return esc(int(x)), True
        return esc(f"{x:.4g}" if abs(x) >= 1e5 or abs(x) < 1e-3 else f"{x:.4f}"), True
    return esc(value), False


def table(df: pd.DataFrame, columns: Iterable[tuple[str, str]], *, sortable: bool = False,
          row_class: str | None = None) -> str:
    cols = [(c, label) for c, label in columns if c in df.columns]
    if df.empty or not cols:
        return '<p class="empty">no rows</p>'
    numeric = {c for c, _ in cols if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])}
    head = "".join(f'<th data-type="{"num" if c in numeric else "text"}">{esc(label)}</th>' for c, label in cols)
    lines = []
    values = [df[c].tolist() for c, _ in cols]
    classes = df[row_class].tolist() if row_class and row_class in df.columns else None
    for i in range(len(df)):
        tds = []
        for (c, _), col in zip(cols, values):
            text, is_num = cell(col[i])
            v = col[i]
            tds.append(f'<td class="num" data-v="{esc(repr(float(v)))}">{text}</td>' if is_num
                       else f'<td data-v="">{text}</td>' if text == "" and c in numeric else f"<td>{text}</td>")
        cls = f' class="{esc(classes[i])}"' if classes else ""
        lines.append(f"<tr{cls}>{''.join(tds)}</tr>")
    kind = ' class="sortable"' if sortable else ""
    return f'<div class="scroll"><table{kind}><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'


def img(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure><img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(plot.title)}</b><br>{esc(plot.caption)}</figcaption></figure>")


def render(*, title: str, sources: list[str], ranked: pd.DataFrame, plots: list[Plot], stats_html: str,
           notes: list[str], summary: dict[str, Any], sets_html: str = "", headline: str = "",
           front_html: str = "") -> str:
    """``headline``: the confirmation stage's verdicts (report/confirmation.py); the page opens with them.
    ``front_html``: a Pareto sweep's front (report/front.py); the section is there only for such a sweep."""
    body: dict[str, list[str]] = {key: [] for key, _ in SECTIONS}
    body["confirmation"].append(headline)
    body["summary"].append(_summary(summary, sources))
    body["ranked"].append(table(ranked, RANKED_COLUMNS, sortable=True, row_class="status"))
    body["sets"].append(sets_html)  # facebench.report.paper
    body["front"].append(front_html)
    for p in plots:
        body.setdefault(p.section, []).append(img(p))
    body["statistics"].append(stats_html)
    body["notes"].append("<ul>" + "".join(f'<li class="note">{esc(n)}</li>' for n in notes) + "</ul>"
                         if notes else '<p class="empty">nothing missing</p>')
    optional = {"confirmation": headline, "front": front_html}   # shown only when there is one
    shown = [(key, name) for key, name in SECTIONS if optional.get(key, True)]
    nav = " ".join(f'<a href="#{key}">{esc(name)}</a>' for key, name in shown)
    parts = []
    for key, name in shown:
        content = "".join(body[key]) or f'<p class="empty">{esc(EMPTY.get(key, "no data in these trials"))}</p>'
        parts.append(f'<section id="{key}"><h2>{esc(name)}</h2>{content}</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><nav>{nav}</nav>{''.join(parts)}"
            f"<script>{JS}</script></body></html>\n")


def _summary(s: dict[str, Any], sources: list[str]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    items = [f"<li>generated {esc(when)} from {len(sources)} run director{'y' if len(sources) == 1 else 'ies'}: "
             + ", ".join(f"<code>{esc(x)}</code>" for x in sources) + "</li>"]
    items.append(f"<li>{esc(s['n_trials'])} trials in {esc(s['n_sweeps'])} sweep(s): "
                 + (", ".join(f"{esc(n)} {esc(k)}" for k, n in s["status"].items()) or "none") + "</li>")
    if s.get("best") is not None:
        b = s["best"]
        items.append(f"<li>best by the sweep's objective ({esc(b.get('objective_metric'))}, "
                     f"{esc(b.get('objective_select'))} epoch): <b>{esc(b['name'] or b['trial_id'])}</b> "
                     f"({esc(b['sweep'])}/{esc(b['trial_id'])}): {cell(b['objective'])[0]} ± "
                     f"{cell(b.get('objective_se'))[0]}, "
                     f"{esc(b['score_metric'])} {cell(b['score'])[0]}</li>")
    else:
        items.append('<li class="note">no completed trials</li>')
    items += [f"<li>budget: {esc(line)}</li>" for line in s.get("budget", [])]
    items += [f"<li>{esc(line)}</li>" for line in s.get("user_notes", [])]
    items += [f"<li><b>{esc(line)}</b></li>" for line in s.get("target", [])]
    items += [f"<li>reference: {esc(label)} <b>{value:.4f}</b></li>" for label, value in s.get("references", [])]
    if s.get("best_config"):
        items.append(f'<li>the best trial\'s complete configuration: <a href="{esc(s["best_config"])}">'
                     f'<code>{esc(s["best_config"])}</code></a> (<code>facebench train --config '
                     f'{esc(s["best_config"])}</code> re-runs it)</li>')
    items.append(f"<li>tables: {', '.join(f'<code>{esc(t)}.parquet</code>' for t in s['tables'])} "
                 f"(schema version {esc(s['schema_version'])}, see docs/report.md)</li>")
    return "<ul>" + "".join(items) + "</ul>"
