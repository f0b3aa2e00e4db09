"""The three committed real-data reports stay whole: page, tables, best.toml, summary.json and decisions.npz present
and readable, within 5 MB; the confirmation stage's runs (the top 2 recipes x 5 new seeds), one code version;
`facebench report --check` recomputes each page from its own files and names a changed number in a tampered copy;
the VAE report holds its calibration. They hold no path of the machine that ran them: trial paths are relative to
the sweep folder, the data root is the user's to pass (`--set data.root=DIR`)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from facebench.config import TrialConfig
from facebench.configfile import load_config_file

REPO = Path(__file__).resolve().parents[1]
# name -> (task, sweep-stage trials at least, confirmation runs)
REPORTS = {"margin": ("face", 16, 10), "vae": ("autoencoder", 16, 10), "cifar": ("cifar", 8, 10)}
TABLES = ("trials", "epochs", "folds", "roc", "confusion", "sets")
SEEDS = 5


@pytest.mark.parametrize("name", list(REPORTS))
def test_committed_report_is_whole(name):
    task, n_trials, n_confirm = REPORTS[name]
    d = REPO / "reports" / name
    size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
    assert size <= 5 * 2**20, f"reports/{name}: {size / 2**20:.1f} MB"
    page = (d / "index.html").read_text(encoding="utf-8")
    assert "budget: sweep " in page and "reference: " in page
    assert re.search(r"target .*: (met|missed|inconclusive)", page)
    trials = pd.read_parquet(d / "trials.parquet")
    for table in TABLES:
        pd.read_parquet(d / f"{table}.parquet")
    assert set(trials["task"]) == {task}
    assert (trials["stage"] == "sweep").sum() >= n_trials
    confirm = trials[trials["stage"] == "confirmation"]
    assert len(confirm) == n_confirm and (confirm["status"] == "completed").all()
    assert trials["version.git"].nunique() == 1 and "dirty" not in trials["version.git"].iloc[0]
    record = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    assert len(record["confirmation"]) >= 2
    for row in record["confirmation"]:
        assert len(row["per_seed"]) >= SEEDS and row["source_trial_ids"] and row["verdict"]
    for entry in record["targets"]:
        lo, hi = entry["ci95"]
        assert entry["verdict"] == (
            "met" if lo >= entry["target"] else "missed" if hi < entry["target"] else "inconclusive"
        )
    best = load_config_file(d / "best.toml")
    assert "data.root" not in best, "best.toml leaves the data root to --set data.root=DIR"
    assert "# data.root is left out: pass --set data.root=DIR" in (d / "best.toml").read_text(encoding="utf-8")
    cfg = TrialConfig.from_dict({**best, "data.root": "DIR"})
    assert cfg.task == task
    assert trials["path"].str.fullmatch(r"trials/[\w-]+").all()
    assert set(trials["cfg.data.root"]) == {"cifar10" if task == "cifar" else "lfw"}
    first = trials[(trials["stage"] == "sweep") & (trials["status"] == "completed")]
    mode_max = first["objective_mode"].iloc[0] == "max"
    top = first.sort_values("objective", ascending=not mode_max).iloc[0]
    assert f"trial {top['trial_id']}" in (d / "best.toml").read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("name", list(REPORTS))
def test_committed_report_recomputes_from_its_own_files(name, tmp_path, capsys):
    from facebench.cli import main as facebench

    d = REPO / "reports" / name
    assert facebench(["report", "--check", str(d)]) == 0
    bad = tmp_path / name
    shutil.copytree(d, bad)
    record = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    row = record["confirmation"][0]
    mean = f"{row['test_accuracy_mean']:.4f}"
    page = (bad / "index.html").read_text(encoding="utf-8")
    assert mean in page
    (bad / "index.html").write_text(page.replace(mean, f"{row['test_accuracy_mean'] + 0.01:.4f}", 1), encoding="utf-8")
    capsys.readouterr()
    assert facebench(["report", "--check", str(bad)]) == 1
    assert capsys.readouterr().err.strip()


@pytest.mark.parametrize("name", ["margin", "vae"])
def test_a_label_stronger_than_the_verdicts_is_caught(name, tmp_path, capsys):
    """Neither sweep's best recipe beat every rival: a record (and page) calling it "the confirmed winner" is
    refused by --check, which words the label again from the rivals' verdicts."""
    from facebench.cli import main as facebench

    bad = tmp_path / name
    shutil.copytree(REPO / "reports" / name, bad)
    text = (bad / "summary.json").read_text(encoding="utf-8")
    label = next(e["label"] for e in json.loads(text)["targets"] if "new seeds" in e["label"])
    assert "(no winner: " in label
    stronger = "the confirmed winner" + label[label.index(") of ") + 1 :]
    for f in ("summary.json", "index.html"):
        path = bad / f
        path.write_text(path.read_text(encoding="utf-8").replace(label, stronger), encoding="utf-8")
    capsys.readouterr()
    assert facebench(["report", "--check", str(bad)]) == 1
    assert "the confirmed winner" in capsys.readouterr().err


def test_vae_report_holds_its_calibration():
    record = json.loads((REPO / "reports" / "vae" / "summary.json").read_text(encoding="utf-8"))
    cal = record["calibration"]
    assert cal["n"] >= 24 and len(cal["runs"]) == cal["n"] and len({r["source_trial_id"] for r in cal["runs"]}) >= 8
    page = (REPO / "reports" / "vae" / "index.html").read_text(encoding="utf-8")
    assert "; confirmation: 10 runs in " in page and f"; calibration: {cal['n']} runs in " in page  # counted apart
    lo, hi = cal["ci95"]
    assert lo <= cal["coverage"] <= hi and cal["coverage"] == pytest.approx(cal["inside"] / cal["n"])


def test_readme_links_every_committed_report():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in REPORTS:
        assert f"reports/{name}/index.html" in readme
