"""The import layers of docs/architecture.md, enforced by import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_layers_hold():
    """`lint-imports` over the contracts in pyproject.toml ([tool.importlinter]); .ci/run runs it too."""
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


CONFIG_CONTRACT = "models, losses, optim and eval never import the trial config"
STAGE_ORDER = "Stage order: sweep > report | engine > eval : data > models | losses | optim"


@pytest.mark.parametrize(
    "module, line, broken",
    [
        # a stage reading the trial config directly (models then also reach the stages above them through it)
        ("models/resnet.py", "from ..config import TrialConfig", [CONFIG_CONTRACT, STAGE_ORDER]),
        ("eval/curves.py", "from .. import config", [CONFIG_CONTRACT]),
        # ... or through another module: data.build reads the config (no allow_indirect_imports); models sits below data
        ("optim/build.py", "from ..data import build", [CONFIG_CONTRACT, STAGE_ORDER]),
        # a lower layer importing a higher one; two stages of one independent layer importing each other
        ("data/arrays.py", "from ..engine import errors", [STAGE_ORDER]),
        ("losses/heads.py", "from ..models import common", [STAGE_ORDER]),
        ("engine/errors.py", "from ..report import html", [STAGE_ORDER]),
    ],
)
def test_the_layer_contracts_can_fail(tmp_path, module, line, broken):
    """The two contracts above on a copy of the package with one import added: exactly the named ones break."""
    shutil.copytree(ROOT / "facebench", tmp_path / "facebench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "facebench" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0, run.stdout[-4000:]
    out = " ".join(run.stdout.split())  # lint-imports wraps long contract names
    found = sorted(name for name in (CONFIG_CONTRACT, STAGE_ORDER) if f"{name} BROKEN" in out)
    assert found == sorted(broken), out[-4000:]
