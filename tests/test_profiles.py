"""Sweep profiles (``--profile cpu``): a named scale of a sweep file, merged over its base, renamed, and every
configuration its space proposes is one the engine accepts."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from facebench.errors import ConfigError
from facebench.sweep import Profile, SweepSpec, space
from facebench.sweep.cover import covering_points
from facebench.sweep.spec import load_sweep_file
from facebench.sweep.trainable import validate_config

REPO = Path(__file__).resolve().parents[1]


def _spec(**profiles) -> SweepSpec:
    return SweepSpec(
        name="s",
        task="face",
        base={"data.image_size": 112, "train.epochs": 20},
        space=partial(space.fixed, values={}),
        num_samples=8,
        profiles=profiles,
    )


def test_profile_merges_base_and_replaces_fields():
    spec = _spec(cpu=Profile(base={"data.image_size": 32}, num_samples=3, cpus_per_trial=1.0)).profile_variant("cpu")
    assert spec.name == "s-cpu" and spec.profile == "cpu"
    assert spec.base == {"data.image_size": 32, "train.epochs": 20}
    assert (spec.num_samples, spec.cpus_per_trial) == (3, 1.0)


def test_unknown_profile_names_the_ones_there_are():
    with pytest.raises(ConfigError, match="--profile 'gpu': sweep 's' has profiles: cpu, tiny"):
        _spec(cpu=Profile(), tiny=Profile()).profile_variant("gpu")
    with pytest.raises(ConfigError, match="has no profiles"):
        _spec().profile_variant("cpu")


def test_profile_is_typed_and_may_not_set_unknown_fields_or_the_name():
    with pytest.raises(TypeError, match="num_trials"):
        Profile(num_trials=3)
    with pytest.raises(TypeError, match="name"):
        Profile(name="x")
    with pytest.raises(ConfigError, match="profile 'cpu': a facebench.sweep.Profile"):
        _spec(cpu={"num_samples": 3})


@pytest.mark.parametrize("sweep", ["margin", "vae", "cifar"])
def test_cpu_profiles_of_the_shipped_sweeps_propose_valid_configs(sweep):
    spec = load_sweep_file(str(REPO / "sweeps" / f"{sweep}.py")).profile_variant("cpu")
    spec = spec.with_data_root("/data")
    assert spec.cpus_per_trial == 1.0 and spec.gpus_per_trial == 0.0
    points = covering_points(spec)  # validates each covering point through the space and TrialConfig
    assert points
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        config = spec.trial_config({**trial.params, **(spec.space(trial) or {})})
        validate_config(config)
        assert config["data.image_size"] <= 64
        study.tell(trial, 0.0)


def test_grid_with_choice_sets_keys_only_for_that_value():
    import optuna

    axes = {"model.backbone": ("cnn", "resnet18"), "loss.name": ("ce",)}
    fn = partial(space.grid, axes=axes, with_choice={"model.backbone": {"resnet18": {"model.width": 0.25}}})
    seen = []
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({k: list(v) for k, v in axes.items()}))
    for _ in range(2):
        trial = study.ask()
        seen.append(fn(trial))
    assert sorted(seen, key=str) == [
        {"model.backbone": "cnn", "loss.name": "ce"},
        {"model.backbone": "resnet18", "loss.name": "ce", "model.width": 0.25},
    ]
