"""The typed config: every bad key, type, range and combination is one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facebench.config import TrialConfig, all_keys, describe_keys, parse_overrides
from facebench.errors import ConfigError


def make(**flat):
    return TrialConfig.from_dict(flat)


def test_defaults_round_trip_through_flat_dict():
    cfg = make()
    flat = cfg.to_flat()
    assert set(flat) == set(all_keys())
    assert make(**flat) == cfg


def test_flat_and_nested_dicts_agree():
    flat = make(**{"loss.margin": 0.3, "train.epochs": 3, "data.image_size": 32})
    nested = TrialConfig.from_dict({"loss": {"margin": 0.3}, "train": {"epochs": 3}, "data": {"image_size": 32}})
    assert flat == nested
    assert flat.loss.margin == 0.3 and flat.train.epochs == 3


def test_string_overrides_are_coerced_by_type():
    cfg = TrialConfig.from_dict(
        parse_overrides(
            ["train.epochs=5", "model.neck=false", "optim.lr=3e-4", "loss.margin=none", "eval.metric=euclidean"]
        )
    )
    assert cfg.train.epochs == 5 and cfg.model.neck is False
    assert cfg.optim.lr == pytest.approx(3e-4) and cfg.loss.margin is None and cfg.eval.metric == "euclidean"


def test_numpy_scalars_from_optuna_are_accepted():
    cfg = make(**{"train.batch_size": np.int64(32), "optim.lr": np.float64(0.01), "model.neck": np.bool_(True)})
    assert cfg.train.batch_size == 32 and isinstance(cfg.train.batch_size, int)
    assert cfg.optim.lr == 0.01 and cfg.model.neck is True


@pytest.mark.parametrize(
    "flat, fragment",
    [
        ({"loss.margn": 1}, "unknown config key 'loss.margn'; loss.* keys are loss.name"),
        ({"nosection.x": 1}, "unknown config key 'nosection.x'"),
        ({"train.epochs": "three"}, "train.epochs: expected int, got 'three'"),
        ({"train.epochs": 2.5}, "train.epochs: expected int"),
        ({"train.epochs": True}, "train.epochs: expected int"),
        ({"model.neck": "maybe"}, "model.neck: expected bool"),
        ({"optim.lr": 0}, "optim.lr: 0.0 is out of range; allowed (0.0, 1000000.0]"),
        ({"optim.lr": float("nan")}, "optim.lr: must be finite"),
        ({"data.val_fraction": 0.9}, "data.val_fraction: 0.9 is out of range; allowed (0.0, 0.5]"),
        ({"optim.name": "sgd", "optim.momentum": 1.0}, "optim.momentum: 1.0 is out of range; allowed [0.0, 1.0)"),
        (
            {"eval.metric": "manhattan"},
            "eval.metric: 'manhattan' is not allowed; choose one of: euclidean, sqeuclidean, cosine",
        ),
        ({"task": "detection"}, "task: 'detection' is not allowed; choose one of: face, autoencoder, cifar"),
        ({"loss.name": "ce", "loss.margin": 0.5}, "loss.margin is only used by loss.name sphereface or cosface"),
        ({"loss.name": "cosface", "loss.h": 0.3}, "loss.h is only used by loss.name adaface, not 'cosface'"),
        ({"loss.name": "arcface", "loss.beta": 2.0}, "loss.beta is only used by loss.name vae, not 'arcface'"),
        (
            {"loss.name": "arcface", "loss.margin": -0.1},
            "loss.margin: -0.1 is out of range; allowed [0.0, 1.5707963267948966]",
        ),
        (
            {"task": "autoencoder", "model.backbone": "resnet18", "loss.name": "vae"},
            "model.backbone: 'resnet18' needs task 'face' or 'cifar', got 'autoencoder'",
        ),
        ({"task": "face", "model.backbone": "vae", "loss.name": "vae"}, "loss.name: 'vae' needs task 'autoencoder'"),
        (
            {"task": "autoencoder", "model.backbone": "ae", "loss.name": "vae"},
            "loss.name: 'vae' needs model.backbone 'vae'",
        ),
        (
            {"task": "autoencoder", "model.backbone": "vae", "loss.name": "arcface"},
            "loss.name: 'arcface' needs task 'face' or 'cifar', got 'autoencoder'",
        ),
        ({"model.noise_level": 0.2}, "model.noise_level is only used by model.backbone dae, not 'resnet18'"),
        (
            {"task": "face", "model.backbone": "dae", "model.noise_level": 0.2},
            "model.noise_level: model.backbone 'dae' reads it only with task 'autoencoder', not 'face'",
        ),
        (
            {"task": "cifar", "data.train": "lfw_people", "data.root": "x"},
            "data.train: 'lfw_people' needs task 'face' or 'autoencoder', got 'cifar'",
        ),
        ({"task": "face", "data.train": "cifar10", "data.root": "x"}, "data.train: 'cifar10' needs task 'cifar'"),
        (
            {"data.train": "att_faces", "data.root": "x", "data.train_folds": "0-2"},
            "data.train_folds is only used by data.train lfw_people, not 'att_faces'",
        ),
        ({"data.train": "lfw_people"}, "data.root: dataset 'lfw_people' needs a root directory"),
        ({"optim.name": "adam", "optim.nesterov": True}, "optim.nesterov is only used by optim.name sgd, not 'adam'"),
        ({"optim.name": "adamw", "optim.momentum": 0.5}, "optim.momentum is only used by optim.name sgd, not 'adamw'"),
        (
            {"schedule.name": "cosine", "schedule.step_size": 3},
            "schedule.step_size is only used by schedule.name step, not 'cosine'",
        ),
        (
            {"schedule.name": "step", "schedule.warmup_epochs": 1},
            "schedule.warmup_epochs is only used by schedule.name cosine or poly",
        ),
        (
            {"schedule.name": "onecycle", "schedule.min_lr_ratio": 0.1},
            "schedule.min_lr_ratio is only used by schedule.name cosine or poly",
        ),
        (
            {"schedule.name": "cosine", "schedule.pct_start": 0.2},
            "schedule.pct_start is only used by schedule.name onecycle",
        ),
        ({"schedule.name": "cosine", "schedule.power": 2.0}, "schedule.power is only used by schedule.name poly"),
        ({"schedule.name": "poly", "schedule.gamma": 0.5}, "schedule.gamma is only used by schedule.name step"),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(flat, fragment):
    with pytest.raises(ConfigError) as err:
        make(**flat)
    assert fragment in str(err.value)


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["train.epochs"])


@pytest.mark.parametrize(
    "suffix, text",
    [
        (".json", json.dumps({"train": {"epochs": 2}, "loss.name": "cosface"})),
        (".yaml", "train:\n  epochs: 2\nloss.name: cosface\n"),
        (".toml", "[train]\nepochs = 2\n[loss]\nname = 'cosface'\n"),
    ],
)
def test_config_files(tmp_path, suffix, text):
    path = tmp_path / f"trial{suffix}"
    path.write_text(text)
    cfg = TrialConfig.from_file(path, overrides=["train.batch_size=8"])
    assert cfg.train.epochs == 2 and cfg.loss.name == "cosface" and cfg.train.batch_size == 8


def test_config_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: cannot parse"):
        TrialConfig.from_file(bad)
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        TrialConfig.from_file(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        TrialConfig.from_file(tmp_path / "list.yaml")


def test_describe_keys_covers_every_key_with_a_doc():
    rows = describe_keys()
    assert [r[0] for r in rows] == all_keys()
    assert all(r[3] for r in rows)
