"""Sweep spec and search spaces, without Ray: validation, conditional parameters, CLI parsing."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import optuna
import pytest

from facebench.config import TrialConfig
from facebench.errors import ConfigError
from facebench.losses import LOSSES
from facebench.sweep import Output, SweepSpec, space
from facebench.sweep.runner import check_space, sweep_paths
from facebench.sweep.spec import ALIAS_MARK

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))


def _spec(**kw):
    base = dict(name="t", task="face", base={"train.epochs": 2}, space=partial(space.fixed, values={}))
    return SweepSpec(**{**base, **kw})


@pytest.mark.parametrize("metric", ["test_accuracy_mean", "test_auc", "train_loss", "accuracy"])
def test_objective_must_be_a_validation_metric(metric):
    with pytest.raises(ConfigError, match="validation metric"):
        _spec(metric=metric)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"mode": "best"}, "mode"),
        ({"scheduler": "pbt"}, "scheduler"),
        ({"task": "faces"}, "task"),
        ({"sampler": "grid"}, "grid"),
        ({"gpus_per_trial": 1.5}, "whole number"),
        ({"name": "a b"}, "name"),
    ],
)
def test_spec_rejects_bad_settings(kw, match):
    with pytest.raises(ConfigError, match=match):
        _spec(**kw)


def _draw(fn, n=200, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        proposed = fn(trial)
        out.append((dict(trial.params), proposed))
        study.tell(trial, 0.0)
    return out


def test_margin_space_is_conditional_and_always_valid():
    import margin

    spec = margin.SPEC
    seen_losses = set()
    for raw, proposed in _draw(spec.space):
        loss = proposed["loss.name"]
        seen_losses.add(loss)
        assert ("loss.margin" in proposed) == ("margin" in LOSSES.get(loss).params)
        assert ("loss.h" in proposed) == (loss == "adaface")
        # each loss has its own Optuna parameter, so TPE never mixes ArcFace and CosFace margins
        assert all(k.endswith(f"{ALIAS_MARK}{loss}") for k in raw if k.startswith("loss.") and ALIAS_MARK in k)
        if "loss.margin" in proposed:
            lo, hi, _ = space.LOSS_RANGES[loss]["margin"]
            assert lo <= proposed["loss.margin"] <= hi
        TrialConfig.from_dict(spec.trial_config(proposed))
    assert seen_losses == {"ce", "sphereface", "cosface", "arcface", "curricularface", "adaface"}


def test_vae_space_beta_only_for_vae_and_log_scale():
    import vae

    betas = []
    for raw, proposed in _draw(vae.SPEC.space):
        backbone = proposed["model.backbone"]
        assert proposed["loss.name"] == ("vae" if backbone == "vae" else "ae")
        assert ("loss.beta" in proposed) == (backbone == "vae")
        assert ("model.noise_level" in proposed) == (backbone == "dae")
        assert proposed["data.image_size"] in (112, 64, 56, 32)
        betas += [proposed["loss.beta"]] if "loss.beta" in proposed else []
        TrialConfig.from_dict(vae.SPEC.trial_config(proposed))
    # log-uniform on [0.05, 10]: about half the draws fall below the geometric midpoint sqrt(0.5) ~ 0.71
    below = sum(b < (0.05 * 10) ** 0.5 for b in betas) / len(betas)
    assert 0.35 < below < 0.65


def test_check_space_validates_with_registries_and_catches_bad_spaces():
    import cifar

    assert len(check_space(cifar.SPEC.smoke_variant(), n=8)) == 8
    bad = _spec(space=partial(space.fixed, values={"loss.name": "ce", "loss.margin": 0.5}))
    with pytest.raises(ConfigError, match="loss.margin"):
        check_space(bad, n=2)


def test_smoke_forces_keys_over_the_space():
    import vae

    smoke = vae.SPEC.smoke_variant()
    cfg = smoke.trial_config({"data.image_size": 112, "model.backbone": "vae"})
    assert cfg["data.image_size"] == 32 and cfg["data.train"] == "synthetic"
    assert smoke.name == "vae-smoke" and smoke.cpus_per_trial == 1 and smoke.gpus_per_trial == 0


def test_data_root_placeholder_and_paths(tmp_path):
    import margin

    spec = margin.SPEC.with_data_root("/data/")
    assert spec.base["data.root"] == "/data/lfw"
    local = sweep_paths("m", Output(results=str(tmp_path)))
    assert local.sweep_dir == tmp_path / "m" and local.study_url == f"sqlite:///{tmp_path / 'm' / 'study.db'}"
    nfs = sweep_paths("m", Output(storage=str(tmp_path / "nfs")))
    assert nfs.sweep_dir == tmp_path / "nfs" / "m" and not nfs.is_uri
    s3 = sweep_paths("m", Output(results=str(tmp_path), storage="s3://bucket/runs/", study_db="postgresql://u:p@h/db"))
    assert s3.is_uri and s3.experiment == "s3://bucket/runs/m/ray" and s3.sweep_dir == tmp_path / "m"


def test_relative_data_root_is_taken_from_where_the_sweep_starts(tmp_path, monkeypatch):
    # Trials run in Ray's own working folders: a relative --data-root must not reach them as given.
    import argparse

    from facebench.sweep.cli import data_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACEBENCH_DATA", raising=False)
    assert data_root(argparse.Namespace(data_root="../shared/data")) == str(tmp_path.parent / "shared" / "data")
    assert data_root(argparse.Namespace(data_root=None)) == str(tmp_path / "data")
    monkeypatch.setenv("FACEBENCH_DATA", "d")
    assert data_root(argparse.Namespace(data_root=None)) == str(tmp_path / "d")
    assert data_root(argparse.Namespace(data_root="s3://bucket/data")) == "s3://bucket/data"


def test_sweep_help_works_without_ray_import():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from facebench.cli import build_parser; build_parser(); print('ray' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert out.stdout.strip() == "False"
    for args in (["-m", "facebench.cli", "sweep", "--help"], [str(ROOT / "sweeps" / "vae.py"), "--help"]):
        res = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
        assert res.returncode == 0 and "--gpus-per-trial" in res.stdout


def test_sweep_missing_file_is_one_line_error(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "facebench.cli", "sweep", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 2 and "sweep file not found" in res.stderr and "Traceback" not in res.stderr


def test_cluster_yaml_passes_rays_own_validation():
    import copy

    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster" / "cluster.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    assert config["available_node_types"][config["head_node_type"]]["resources"] == {"CPU": 0}
    assert any("pip install" in c and '-e ".[cluster]"' in c for c in config["setup_commands"])
    config["available_node_types"]["worker.gpu"]["min_workerz"] = 0  # the validation is real: a typo fails
    with pytest.raises(Exception, match="min_workerz"):
        validate_config(prepare_config(config))


def test_cluster_address_precedence(monkeypatch, tmp_path):
    """--local wins; then --address, $RAY_ADDRESS, the cluster this node belongs to; else a private Ray."""
    from facebench.sweep import cli

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(cli, "RAY_CURRENT_CLUSTER", str(tmp_path / "ray_current_cluster"))
    parse = cli.parse_sweep_args
    assert cli.cluster_address(parse([])) is None
    (tmp_path / "ray_current_cluster").write_text("10.0.0.1:6379")
    assert cli.cluster_address(parse([])) == "auto"  # `ray submit` runs the file on the head node
    assert cli.cluster_address(parse(["--local"])) is None
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.2:6379")
    assert cli.cluster_address(parse([])) == "10.0.0.2:6379"
    assert cli.cluster_address(parse(["--address", "10.0.0.3:6379"])) == "10.0.0.3:6379"
    assert cli.cluster_address(parse(["--local", "--address", "x"])) is None


@pytest.mark.parametrize("name", ["vae", "margin", "cifar", "demo"])
def test_smoke_runs_cover_every_categorical_choice(name):
    """The first trials of every smoke sweep visit every value of every categorical parameter the smoke run
    does not force (the VAE smoke trains a VAE, an AE and a denoising AE), and each point is a valid config."""
    import importlib

    from facebench.sweep.cover import covering_points

    smoke = importlib.import_module(name).SPEC.smoke_variant()
    points = covering_points(smoke)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(64):  # every categorical parameter of the space, as an independent oracle sees it
        trial = study.ask()
        smoke.space(trial)
        for key, dist in trial.distributions.items():
            if isinstance(dist, optuna.distributions.CategoricalDistribution) and key not in smoke.forced:
                assert {p[key] for p in points} == set(dist.choices), key
        study.tell(trial, 0.0)
    assert len(points) == max(len(set(p[k] for p in points)) for k in points[0])
    if name == "vae":
        assert {p["model.backbone"] for p in points} == {"vae", "ae", "dae"}


def test_a_sweep_that_fails_before_training_leaves_no_empty_folders(tmp_path):
    """The LFW folder is not there: the data stage fails after the sweep folder was made, and the folder
    (with its empty trials/) goes again; a folder that was there before stays."""
    from facebench.errors import DataError
    from facebench.sweep import Output, run_sweep

    bad = _spec(base={"train.epochs": 2, "data.train": "lfw_people", "data.root": str(tmp_path / "no-lfw")})
    with pytest.raises(DataError, match="LFW root not found"):
        run_sweep(bad, output=Output(results=str(tmp_path / "runs"), verbose=0))
    assert (tmp_path / "runs").is_dir() and not (tmp_path / "runs" / "t").exists()


def test_log_flag_names_the_trackers():
    from facebench.sweep.cli import parse_trackers

    assert parse_trackers(["tensorboard,mlflow", "tensorboard"]) == ("tensorboard", "mlflow")
    with pytest.raises(ConfigError, match="'wandb': not a tracker; choose from: tensorboard, mlflow"):
        parse_trackers(["wandb"])


def test_onprem_yaml_passes_rays_own_validation():
    """cluster/onprem.yaml (Ray's local provider); cluster/e2e-local.sh runs it for real (CI, as root)."""
    import copy

    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster" / "onprem.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    assert config["provider"]["type"] == "local" and config["provider"]["head_ip"]
    assert any('-e ".[cluster]"' in c for c in config["setup_commands"])
    assert all(
        "${RAY_START_ARGS:-}" in c[-1] for c in (config["head_start_ray_commands"], config["worker_start_ray_commands"])
    )


def test_schedule_ranges_come_from_the_declarations_and_scale_with_epochs():
    from facebench.optim import SCHEDULERS

    draws = [p for _, p in _draw(partial(space.suggest_schedule, schedules=("step", "cosine", "onecycle"), epochs=21))]
    steps = [p["schedule.step_size"] for p in draws if p["schedule.name"] == "step"]
    warm = [p["schedule.warmup_epochs"] for p in draws if p["schedule.name"] == "cosine"]
    pct = [p["schedule.pct_start"] for p in draws if p["schedule.name"] == "onecycle"]
    assert steps and min(steps) >= 7 and max(steps) <= 21 and all(isinstance(s, int) for s in steps)  # [1/3, 1] x 21
    assert warm and 0.0 <= min(warm) and max(warm) <= 0.2 * 21
    lo, hi, _ = SCHEDULERS.get("onecycle").params["pct_start"].search
    assert pct and lo <= min(pct) and max(pct) <= hi
    assert all(
        set(p) <= {"schedule.name", "schedule.step_size", "schedule.warmup_epochs", "schedule.pct_start"} for p in draws
    )  # a key no variant gives a search range is never suggested
