"""The three committed real-data reports stay whole: page, tables and best.toml present and readable, within 5 MB,
the trial counts the README states, the confirmation stage's runs, and the #1's test score where the docs say.
They hold no path of the machine that ran them: trial paths are relative to the sweep folder, the data root is the
user's to pass (`--set data.root=DIR`)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from facebench.config import TrialConfig
from facebench.configfile import load_config_file

REPO = Path(__file__).resolve().parents[1]
# name -> (task, sweep-stage trials at least, confirmation runs)
REPORTS = {"margin": ("face", 16, 9), "vae": ("autoencoder", 16, 9), "cifar": ("cifar", 8, 9)}
TABLES = ("trials", "epochs", "folds", "roc", "confusion", "sets")


@pytest.mark.parametrize("name", list(REPORTS))
def test_committed_report_is_whole(name):
    task, n_trials, n_confirm = REPORTS[name]
    d = REPO / "reports" / name
    size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
    assert size <= 5 * 2**20, f"reports/{name}: {size / 2**20:.1f} MB"
    page = (d / "index.html").read_text(encoding="utf-8")
    assert "budget: sweep " in page and "reference: " in page and re.search(r"target .*(met|missed by)", page)
    trials = pd.read_parquet(d / "trials.parquet")
    for table in TABLES:
        pd.read_parquet(d / f"{table}.parquet")
    assert set(trials["task"]) == {task}
    assert (trials["stage"] == "sweep").sum() >= n_trials
    confirm = trials[trials["stage"] == "confirmation"]
    assert len(confirm) == n_confirm and (confirm["status"] == "completed").all()
    best = load_config_file(d / "best.toml")
    assert "data.root" not in best, "best.toml leaves the data root to --set data.root=DIR"
    assert "# data.root: pass --set data.root=DIR" in (d / "best.toml").read_text(encoding="utf-8")
    cfg = TrialConfig.from_dict({**best, "data.root": "DIR"})
    assert cfg.task == task
    assert trials["path"].str.fullmatch(r"trials/[\w-]+").all()
    assert set(trials["cfg.data.root"]) == {"cifar10" if task == "cifar" else "lfw"}
    first = trials[(trials["stage"] == "sweep") & (trials["status"] == "completed")]
    mode_max = first["objective_mode"].iloc[0] == "max"
    top = first.sort_values("objective", ascending=not mode_max).iloc[0]
    assert f"trial {top['trial_id']}" in (d / "best.toml").read_text(encoding="utf-8").splitlines()[0]


def test_readme_links_every_committed_report():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in REPORTS:
        assert f"reports/{name}/index.html" in readme
