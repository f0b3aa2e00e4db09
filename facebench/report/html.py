"""One self-contained ``index.html``: images inlined as data URIs, inline CSS and a small vanilla-JS sorter.

Every string that came from a config, a name or a file is passed through ``html.escape``; the page embeds
no data in script blocks, so nothing a user typed can become code. It makes no network request.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .plots import Plot
    from .section import Section

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


def table(
    df: pd.DataFrame, columns: Iterable[tuple[str, str]], *, sortable: bool = False, row_class: str | None = None
) -> str:
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
            tds.append(
                f'<td class="num" data-v="{esc(repr(float(v)))}">{text}</td>'
                if is_num
                else f'<td data-v="">{text}</td>'
                if text == "" and c in numeric
                else f"<td>{text}</td>"
            )
        cls = f' class="{esc(classes[i])}"' if classes else ""
        lines.append(f"<tr{cls}>{''.join(tds)}</tr>")
    kind = ' class="sortable"' if sortable else ""
    return (
        f'<div class="scroll"><table{kind}><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'
    )


def img(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (
        f'<figure><img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>{esc(plot.title)}</b><br>{esc(plot.caption)}</figcaption></figure>"
    )


def render(title: str, sections: Sequence[Section]) -> str:
    """The page: a navigation bar and the sections in order; an empty section says why it is empty, an optional
    one (the confirmation verdicts) is left off."""
    shown = [s for s in sections if not (s.optional and s.is_empty)]
    nav = " ".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in shown)
    parts = []
    for s in shown:
        content = s.html + "".join(img(p) for p in s.figures) or f'<p class="empty">{esc(s.empty)}</p>'
        parts.append(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>{content}</section>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><nav>{nav}</nav>{''.join(parts)}"
        f"<script>{JS}</script></body></html>\n"
    )
