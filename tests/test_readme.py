"""The README cannot rot: its quickstart runs as written, in order, in a fresh copy of the repository, and every
other command block names only subcommands, sweep files and scripts that exist."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- quickstart:begin -->", "<!-- quickstart:end -->"


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[str]:
    """One entry per command: backslash continuations joined, blank and comment-only lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def quickstart() -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "the README marks exactly one quickstart"
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [c for block in bash_blocks(section) for c in commands(block)]


def test_every_readme_command_names_real_things():
    from facebench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    seen = 0
    for block in bash_blocks(README.read_text(encoding="utf-8")):
        for cmd in commands(block):
            lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
            lex.whitespace_split = True
            tokens = list(lex)  # operators (&&, |, ;) are tokens of their own; "# ..." comments are dropped
            parts = [[]]
            for t in tokens:
                parts.append([]) if t in ("&&", "||", "|", ";", "&") else parts[-1].append(t)
            for words in parts:
                for i, w in enumerate(words):
                    if w.endswith("facebench") and i + 1 < len(words) and not words[i + 1].startswith("-"):
                        assert words[i + 1] in sub, f"README: `{cmd}` uses an unknown subcommand {words[i + 1]!r}"
                        seen += 1
                    if re.fullmatch(r"(sweeps|cluster|tests/bench)/[\w./-]+", w):
                        assert (ROOT / w).exists(), f"README: `{cmd}` names {w}, which does not exist"
    assert seen >= 10


@pytest.mark.slow
@pytest.mark.timeout(1800)  # minutes on an idle 2-core machine; far more when other suites share the cores
def test_quickstart_runs_as_written(tmp_path):
    """A fresh copy of the tracked files (what a clone holds), `facebench` and `python` on PATH as an
    activated environment puts them, and each quickstart command in order; each must exit 0."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to copy the tracked files from")
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    clone = tmp_path / "clone"
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("python", f'"{sys.executable}"'), ("facebench", f'"{sys.executable}" -m facebench.cli')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("FACEBENCH_RUNS", "FACEBENCH_DATA", "RAY_ADDRESS")}
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", PYTHONPATH=str(clone), HOME=str(tmp_path / "home"))
    cmds = quickstart()
    assert any(c.startswith("facebench train") for c in cmds) and any("sweeps/" in c for c in cmds)
    for cmd in cmds:
        res = subprocess.run(
            ["bash", "-c", f"set -eo pipefail\n{cmd}"], cwd=clone, env=env, capture_output=True, text=True, timeout=900
        )
        assert res.returncode == 0, (
            f"README quickstart: `{cmd}` exited {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        )
    assert (clone / "runs" / "vae-smoke" / "report" / "index.html").is_file()
    assert (clone / "reports" / "vae-smoke" / "index.html").is_file()
