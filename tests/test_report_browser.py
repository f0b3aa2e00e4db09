"""The report page in a real headless chromium: offline, no console errors, images decode, sorting works, no XSS."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from real_trials import EVIL, MIXED

from facebench.report import build_report

CHROMIUM = os.environ.get("FACEBENCH_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.browser


def _chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium, or set FACEBENCH_CHROMIUM)")
    return sync_playwright


@pytest.fixture(scope="module")
def page_path(mixed_sweep, tmp_path_factory):
    """The report of the session's real sweep: a trial named EVIL and one that failed with EVIL as its reason."""
    return Path(build_report([mixed_sweep], tmp_path_factory.mktemp("browser") / "report"))


def test_report_in_headless_chromium(page_path, tmp_path):
    sync_playwright = _chromium()
    requests, errors, dialogs = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri(), wait_until="load")
            _check_page(page)
            # The whole page as a test artefact, to look at: pytest -s prints where it is.
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        finally:
            browser.close()
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests
    assert not errors, errors
    assert not dialogs, f"a script from a config ran: {dialogs}"


def _check_page(page) -> None:
    # Every section shows something: a figure, a table, or a sentence saying why it is empty.
    shown = page.eval_on_selector_all(
        "section",
        "els => els.map(e => [e.id, e.querySelectorAll('img, table').length,"
        " e.innerText.slice(e.querySelector('h2').innerText.length)])",
    )
    for key, n, why in shown:
        assert n or len(why.strip()) > 10, f"section {key!r} is empty without a word of why"
    assert page.locator("#statistics table").count() >= 2  # over folds, and over seeds (two seeds per config here)
    table = page.locator("#ranked table.sortable")
    assert table.locator("tbody tr").count() == len(MIXED)
    sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(sizes) >= 10 and all(ok and w > 0 for ok, w in sizes), sizes
    # The hostile name and reason are shown as text, literally.
    text = page.locator("#ranked").inner_text()
    assert text.count(EVIL) >= 2
    col = _column(page, "test score")
    header = table.locator("th", has_text="test score")
    header.click()
    asc = _values(page, col)
    nums = [float(v) for v in asc if v != ""]
    assert nums == sorted(nums) and nums and all(v == "" for v in asc[len(nums) :]), asc  # NaN last
    header.click()
    desc = _values(page, col)
    nums = [float(v) for v in desc if v != ""]
    assert nums == sorted(nums, reverse=True) and all(v == "" for v in desc[len(nums) :]), desc
    names = _column(page, "trial")
    table.locator("th", has_text="trial").first.click()
    got = _values(page, names)
    assert got == sorted(got)


def _column(page, label: str) -> int:
    heads = page.eval_on_selector_all("#ranked thead th", "els => els.map(e => e.textContent.replace(/[ ▲▼]+$/, ''))")
    return heads.index(label)


def _values(page, col: int) -> list[str]:
    return page.eval_on_selector_all("#ranked tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent)")
