"""Sweeps end to end on CPU with the real engine: smoke sweeps, faults, two nodes (resume: test_sweep_resume.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import pytest

from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
sys.path.insert(0, str(ROOT / "tests"))
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["vae", "margin", "cifar", "demo"])
def test_smoke_sweep_files(ray_local, tmp_path, name):
    import importlib

    from facebench.sweep import main

    module = importlib.import_module(name)
    # The VAE smoke at its own size (it must train a VAE, an AE and a denoising AE); the others cut to two
    # trials here (test_sweep.py checks that each one's covering points visit its whole space).
    n = ["--num-samples", "2"] if name != "vae" else []
    rc = main(module.SPEC, ["--smoke", *n, "--results", str(tmp_path), "--quiet", "--local"])
    summary = json.loads((tmp_path / f"{name}-smoke" / "summary.json").read_text())
    assert rc == 0 and summary["counts"]["completed"] >= 1, summary
    if name == "vae":
        assert {t["params"]["model.backbone"] for t in summary["trials"]} == {"vae", "ae", "dae"}
    else:
        assert len(summary["trials"]) == 2
    best = summary["trials"][0]
    assert best["status"] == "completed" and 0.0 <= best["objective"] <= 1.0 and best["test"]
    trial_dir = Path(best["trial_dir"])
    assert trial_dir.parent == tmp_path / f"{name}-smoke" / "trials" and trial_dir.name == best["trial_id"]
    for f in ("config.json", "meta.json", "epochs.jsonl", "result.json", "ray.json"):
        assert (trial_dir / f).exists(), f
    sweep = json.loads((tmp_path / f"{name}-smoke" / "sweep.json").read_text())
    space_of = {"vae": "VAE", "margin": "Margin", "cifar": "grid", "demo": "Margin"}
    assert sweep["metric"] == "val_accuracy" and sweep["space"]["function"].endswith(f"space.{space_of[name]}")
    assert (tmp_path / f"{name}-smoke" / "study.db").exists()


def test_faults_are_recorded_and_the_sweep_goes_on(ray_local, tmp_path):
    """lr 1e6 diverges (the engine returns failed), a 16 px input raises in the model; both become failed
    trials with their reason while the healthy cell completes."""
    from facebench.sweep import Output, run_sweep

    axes = {"optim.lr": (1e-3, 1e6), "data.image_size": (32, 16)}
    spec = SweepSpec(
        name="faults",
        task="face",
        base={**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "ce", "optim.name": "sgd", "train.epochs": 2},
        space=partial(space.grid, axes=axes),
        sampler="grid",
        grid=axes,
        scheduler="fifo",
        num_samples=4,
        cpus_per_trial=1,
    )
    summary = run_sweep(spec, output=Output(results=str(tmp_path), verbose=0))
    by_cell = {(t["params"]["optim.lr"], t["params"]["data.image_size"]): t for t in summary["trials"]}
    assert by_cell[(1e-3, 32)]["status"] == "completed"
    assert by_cell[(1e6, 32)]["status"] == "failed" and "non-finite" in by_cell[(1e6, 32)]["reason"].lower()
    for lr in axes["optim.lr"]:
        assert by_cell[(lr, 16)]["status"] == "failed" and "image_size" in by_cell[(lr, 16)]["reason"]
    assert summary["counts"] == {"completed": 1, "stopped": 0, "failed": 3}
    assert len(summary["failed"]) == 3
    result = json.loads((Path(by_cell[(1e6, 32)]["trial_dir"]) / "result.json").read_text())
    assert result["status"] == "failed"


def test_two_node_cluster(tmp_path):
    from cluster_two_nodes import stop

    temp = tempfile.mkdtemp(prefix="fbray_", dir="/tmp")  # ours: stopped and removed even if the script is killed
    try:
        res = subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "cluster_two_nodes.py"),
                "--results",
                str(tmp_path),
                "--num-samples",
                "2",
                "--ray-temp",
                temp,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
    finally:
        stop(temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((tmp_path / "cifar-smoke" / "summary.json").read_text())
    nodes = {t["node_id"] for t in summary["trials"]}
    assert len(nodes) == 2 and None not in nodes
    assert len({(t["hostname"], t["pid"]) for t in summary["trials"]}) == 2
