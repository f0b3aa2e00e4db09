"""The recipes are valid configs, and the GPU check (tests/bench/gpu.py) runs end to end at --tiny scale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import tomllib

from facebench.config import TrialConfig

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))


def test_there_are_cpu_and_gpu_recipes():
    names = {p.stem for p in RECIPES}
    assert {"lfw-arcface-cpu", "lfw-vae-cpu", "cifar-cnn-cpu", "lfw-arcface-gpu"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_is_a_valid_config_with_a_header(path):
    text = path.read_text()
    assert text.startswith("#"), f"{path.name}: the header comment says what it reaches and where"
    cfg = TrialConfig.from_file(path)
    flat = cfg.to_flat()
    # Every key the recipe sets survives validation with the value written (nothing silently dropped).
    from facebench.config import flatten

    for key, value in flatten(tomllib.loads(text)).items():
        assert flat[key] == value, key


@pytest.mark.slow
def test_gpu_check_runs_at_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    spec = importlib.util.spec_from_file_location("fb_gpu_bench", REPO / "tests" / "bench" / "gpu.py")
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    out = tmp_path / "gpu.json"
    assert gpu.main(["--tiny", "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    precision = got["precision"]
    assert precision["fp32"]["images_per_s"] > 0 and precision["fp32"]["vs_fp32"] == 1.0
    assert precision["bf16+channels_last"]["images_per_s"] > 0
    if "skipped" in precision["fp16+GradScaler"]:
        assert "CUDA" in precision["fp16+GradScaler"]["skipped"]
    sharing = got["sharing"]
    assert len(sharing) == 2 and all(v["completed"] == got["scale"]["sweep_trials"] for v in sharing.values())
    assert got["full_scale_epoch"]["epoch_s"] > 0 and got["full_scale_epoch"]["images_per_s"] > 0
