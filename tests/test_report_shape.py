"""The report's code shape: one renderer over sections, each section a function of the same inputs, no function
taking more than 6 parameters; on a real (empty) sweep, every section answers with a Section of its own key."""

from __future__ import annotations

import ast
from pathlib import Path

from real_trials import make_sweep

from facebench.report import build, html, tables
from facebench.report.collect import collect
from facebench.report.section import Inputs, Options, Section

REPORT = Path(__file__).resolve().parents[1] / "facebench" / "report"
MAX_PARAMETERS = 6


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    return len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


def test_no_report_function_takes_more_than_six_parameters():
    many = {
        f"{p.name}:{n.lineno} {n.name}": _parameters(n)
        for p in sorted(REPORT.glob("*.py"))
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and _parameters(n) > MAX_PARAMETERS
    }
    assert not many, many
    seven = ast.parse("def f(a, b, c, d, e, f, *, g): pass").body[0]
    assert _parameters(seven) == 7  # the count above can fail


def test_every_section_is_one_function_of_the_inputs(tmp_path):
    sweep = make_sweep(tmp_path, "empty", [])
    data = collect([sweep])
    frames = {name: t.to_pandas() for name, t in tables.build_tables(data.trials)[0].items()}
    inputs = Inputs(data=data, ranked=build._ranked(frames["trials"], data), frames=frames, options=Options())
    done = [section(inputs) for section in build.SECTIONS]
    assert all(isinstance(s, Section) for s in done)
    keys = [s.key for s in done]
    assert len(set(keys)) == len(keys) and keys[:3] == ["confirmation", "summary", "ranked"]
    page = html.render("t <b>", done)
    assert "t &lt;b&gt;" in page and '<section id="confirmation">' not in page  # optional and empty: left off
    left_off = [s.key for s in done if s.optional and s.is_empty]
    assert left_off == ["confirmation", "front"]  # a sweep with no confirmation and one objective
    assert page.count("<section ") == len(done) - len(left_off) and 'class="empty">no trials found' in page
