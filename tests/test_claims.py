"""Every finding the README, docs/ and recipes/ state about a committed report is in that report's own files.

A passage (a markdown paragraph or list item, a recipe's header comment) that names ``reports/<name>`` may state a
number of that report (a decimal such as 0.8103 or 0.797) or quote one of its generated lines ("..."). Each such
number and quotation must occur in the report's page (its visible text) or in its summary.json; a passage naming
several reports is checked against all of them together. Nothing is hand-computed: what the prose says, the report
generated.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A report named as where a finding comes from (its page, its folder), not as a source of raw tables for a tool.
REPORT = re.compile(r"reports/(margin|vae|cifar)\b(?!/\w+\.parquet)")
NUMBER = re.compile(r"(?<![\w.])[01]\.\d{3,4}(?![\d])")
QUOTE = re.compile(r'"([^"]{12,})"')


def _norm(text: str) -> str:
    text = text.replace("−", "-").replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip()


def report_text(name: str) -> str:
    """The page's visible text and summary.json's values, normalised (dashes, white space)."""
    d = REPO / "reports" / name
    page = (d / "index.html").read_text(encoding="utf-8")
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", " ", page)
    visible = html.unescape(re.sub(r"<[^>]+>", " ", page))
    summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    return _norm(visible + " " + json.dumps(summary, ensure_ascii=False))


def passages() -> list[tuple[str, str]]:
    """(where, text) for every passage of README.md, docs/*.md, reports/README.md and recipes/*.toml headers."""
    out: list[tuple[str, str]] = []
    for path in [REPO / "README.md", REPO / "reports" / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # commands, not claims
        for block in re.split(r"\n\s*\n|\n(?=\s*[-*] |\|)", text):
            out.append((path.relative_to(REPO).as_posix(), block))
    for path in sorted((REPO / "recipes").glob("*.toml")):
        header = "\n".join(
            line.lstrip("# ") for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")
        )
        out.append((path.relative_to(REPO).as_posix(), header))
    return out


def unsupported(text: str, facts: str) -> list[str]:
    """The numbers and quotations of ``text`` that ``facts`` (a report's normalised text) does not contain."""
    text = _norm(text)
    missing = [q for q in QUOTE.findall(text) if _norm(q) not in facts]
    unquoted = QUOTE.sub(" ", text)
    missing += [n for n in NUMBER.findall(unquoted) if n not in facts]
    return missing


def claims() -> list[tuple[str, tuple[str, ...], str]]:
    found = []
    for where, text in passages():
        names = tuple(sorted(set(REPORT.findall(text))))
        if names and (NUMBER.search(text) or QUOTE.search(text)):
            found.append((where, names, text))
    return found


FACTS = {name: report_text(name) for name in ("margin", "vae", "cifar")}
CLAIMS = claims()


def test_the_claims_are_found():
    # README's results, docs/engine.md's committed sweeps and the recipe headers each state numbers of the reports.
    wheres = {where for where, _, _ in CLAIMS}
    assert {"README.md", "docs/engine.md"} <= wheres, wheres


@pytest.mark.parametrize("where,names,text", CLAIMS, ids=[f"{w}:{i}" for i, (w, _, _) in enumerate(CLAIMS)])
def test_claim_is_in_its_report(where, names, text):
    facts = " ".join(FACTS[n] for n in names)
    missing = unsupported(text, facts)
    assert not missing, f"{where}: {missing} not in reports/{','.join(names)} ({_norm(text)[:160]}...)"


def test_the_check_can_fail():
    facts = FACTS["margin"]
    assert unsupported('reports/margin reached 0.9999 "a verdict no report ever generated at all"', facts) == [
        "a verdict no report ever generated at all",
        "0.9999",
    ]
