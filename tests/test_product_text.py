"""Tracked files speak of the product, never of the machine or the process that made them.

Every git-tracked text file, and the text inside the committed reports (Parquet values and metadata, HTML, TOML),
is scanned for (a) absolute paths of a machine that produced a file (a checkout, data or results folder, a home or
temp dir) and (b) phrases about how the project was built. A hit fails the test naming file:line (for a Parquet
file: file:column:row)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS = "tests/test_product_text.py"  # it spells the patterns it looks for

# (a) Absolute paths of the machine that wrote a file.
MACHINE_PATH = re.compile(
    r"(?<![\w.~$-])("
    r"/work/[\w.-]"
    r"|/root/[\w.-]"
    r"|/home/[\w.-]+/"
    r"|/Users/[\w.-]+/"
    r"|/tmp/[\w.-]"
    r"|/private/var/"
    r"|/var/folders/"
    r"|[A-Za-z]:\\+Users\\+"
    r")"
)

# Documented examples and paths that are part of the product's behaviour, each with the file it may appear in.
ALLOWED_PATHS = {
    ("cluster/cluster.yaml", "/home/ubuntu/"),  # the cloud image's user in a cluster-launcher example
    ("facebench/sweep/cli.py", "/tmp/ray/"),  # where `ray start` records the cluster address
    ("docs/sweeps.md", "/tmp/ray/"),  # the same, documented
    ("docs/sweeps.md", "/tmp/fb-ray-"),  # a private Ray's temp dir, as the sweep names it
    ("cluster/e2e-local.sh", "/tmp/fbe2e_"),  # mktemp template
    ("tests/cluster_two_nodes.py", "/tmp/fbray_"),  # mktemp prefix in a --help text
}

# (b) Phrases about how the project was built. Phrases, not single words: "session" alone is a Ray and pytest word.
BUILD_PHRASES = re.compile(
    r"\b("
    r"this wave|earlier wave|before this wave|after this wave"
    r"|earlier session|previous session|this session|the sessions? that"
    r"|build machine|2-core VM|this project's (?:2-core )?(?:VM|machine)|this project's machines?|this 2-core machine|the shared 2-core machine"
    r"|(?:was|were|been|is) lent|no GPU was lent|borrowed (?:a |the )?(?:GPU|machine)"
    r"|load average[ ~<≈]*\d|at load \d|development machine|shared with other jobs"
    r"|other helpers|other engineers|\(issue \d+|issue \d+ item|the issue's targets|helpers' (?:jobs|test runs)"
    r"|an earlier engine|re-measured after|before this change"
    r")",
    re.I,
)


def scan_text(name: str, text: str) -> list[str]:
    """``file:line: match`` for every machine path or build phrase in ``text`` outside the allow-list."""
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in MACHINE_PATH.finditer(line):
            if not any(name == f and line.startswith(p, m.start()) for f, p in ALLOWED_PATHS):
                hits.append(f"{name}:{n}: absolute machine path {line[m.start() : m.start() + 40]!r}")
        for m in BUILD_PHRASES.finditer(line):
            hits.append(f"{name}:{n}: words about how the project was built {m.group(0)!r}")
    return hits


def scan_parquet(name: str, path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    hits = []
    for key, value in (table.schema.metadata or {}).items():
        hits += [
            h.replace(f"{name}:1:", f"{name}:metadata {key.decode()}:")
            for h in scan_text(name, value.decode("utf-8", "replace"))
        ]
    for col in table.column_names:
        column = table.column(col)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        for row, value in enumerate(column.to_pylist()):
            if value:
                hits += [h.replace(f"{name}:1:", f"{name}:{col}:{row}:", 1) for h in scan_text(name, value)]
    return hits


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [n for n in out.decode().split("\0") if n and (ROOT / n).is_file()]


def test_tracked_files_hold_no_machine_paths_and_no_build_history():
    hits = []
    for name in tracked_files():
        if name == THIS:
            continue
        path = ROOT / name
        if name.endswith(".parquet"):
            hits += scan_parquet(name, path)
            continue
        raw = path.read_bytes()
        if b"\0" in raw[:8192]:
            continue  # binary (images, npz): no text to read
        hits += scan_text(name, raw.decode("utf-8", "replace"))
    assert not hits, "tracked text about the machine or the making of the project:\n" + "\n".join(hits)


def test_committed_reports_are_scanned():
    names = tracked_files()
    for report in ("margin", "vae", "cifar"):
        for f in ("trials.parquet", "index.html", "best.toml"):
            assert f"reports/{report}/{f}" in names


@pytest.mark.parametrize(
    "text",
    [
        'root = "/work/shared/data/lfw"',
        "results in /home/alice/runs/margin",
        "see /tmp/pytest-of-x/run/report",
        "<code>/root/facebench/runs</code>",
        "copied from C:\\Users\\bob\\data",
        "/private/var/folders/xy/T/run",
        "measured in an earlier session",
        "1.5 % re-measured after this wave's engine changes",
        "wall not comparable (load average 16 on 2 cores)",
        "Measured on this project's build machine",
        "No GPU was lent to the sessions that built this",
    ],
)
def test_the_scanner_finds_what_it_looks_for(text):
    hits = scan_text("README.md", text)
    assert hits and hits[0].startswith("README.md:1: ")


@pytest.mark.parametrize(
    "text",
    [
        "Ray's own session logs are kept in runs/<name>/logs/ray/",
        "a session-scoped fixture",
        "DATA=~/data  # the folder holding lfw/",
        "--storage /mnt/shared/facebench",
        "trials/0309c391",
        "not yet measured on a GPU",
        "the report's helper process",
    ],
)
def test_the_scanner_leaves_product_words_alone(text):
    assert scan_text("docs/x.md", text) == []


def test_the_allow_list_is_per_file():
    assert scan_text("cluster/cluster.yaml", "  /home/ubuntu/facebench: .") == []
    assert scan_text("README.md", "  /home/ubuntu/facebench: .")


def test_the_scanner_reads_parquet_values(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "trials.parquet"
    pq.write_table(pa.table({"path": ["trials/a", "/work/real/x/trials/b"], "n": [1, 2]}), f)
    assert scan_parquet("reports/x/trials.parquet", f) == [
        "reports/x/trials.parquet:path:1: absolute machine path '/work/real/x/trials/b'"
    ]
