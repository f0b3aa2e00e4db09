"""A trial trained from RecordIO and tested on several sets at the end: .bin and folder routes agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facebench.cli import main
from facebench.engine import run_trial
from facebench.errors import ConfigError, LeakageError

TINY = {"data.image_size": 24, "model.width": 0.125, "train.epochs": 1, "train.batch_size": 8,
        "data.val_pairs": 16, "train.max_steps": 2, "eval.batch_size": 64, "train.threads": 1,
        "model.backbone": "cnn", "loss.name": "arcface"}


def _pack(src, out, *extra) -> None:
    assert main(["data", "pack", str(src), "--out", str(out), *extra]) == 0


def _trial(rec, binfile, folder, *, folds="5-9", **extra) -> dict:
    return {**TINY, "data.train": "recordio", "data.root": str(rec), "data.test_root": str(folder),
            "data.test_folds": folds, "eval.sets": f"{binfile},folder={folder}", "eval.set_folds": folds, **extra}


def _assert_routes_agree(trial_dir) -> list[dict]:
    rows = json.loads((trial_dir / "artefacts" / "sets.json").read_text())
    by = {r["set"]: r for r in rows}
    assert set(by) == {"lfw", "folder"} and by["lfw"]["format"] == "bin" and by["folder"]["format"] == "folder"
    for key in ("accuracy_mean", "accuracy_std", "auc", "pairs", "positives", "folds"):
        assert by["lfw"][key] == by["folder"][key], key
    a, b = (np.load(trial_dir / "artefacts" / "sets" / f"{n}.npz") for n in ("lfw", "folder"))
    np.testing.assert_array_equal(a["scores"], b["scores"])  # identical pixels -> identical scores, pair by pair
    np.testing.assert_array_equal(a["fold_accuracy"], b["fold_accuracy"])
    return rows


def test_recordio_trial_tests_bin_and_folder_equally(synthetic_lfw, tmp_path):
    image_dir, pairs = synthetic_lfw
    root = image_dir.parent
    _pack(root, tmp_path / "rec", "--folds", "0-4")
    _pack(pairs, tmp_path / "lfw.bin")
    result = run_trial(_trial(tmp_path / "rec", tmp_path / "lfw.bin", root), trial_dir=tmp_path / "t",
                       raise_on_error=True)
    assert result["status"] == "completed"
    assert result["data"]["train_dataset"] == "recordio"
    rows = _assert_routes_agree(tmp_path / "t")
    # The main test protocol (LFW folds 5-9 through the folder) is the same pairs again.
    assert result["metrics"]["test_accuracy_mean"] == rows[0]["accuracy_mean"]
    assert result["metrics"]["set_lfw_accuracy_mean"] == rows[0]["accuracy_mean"]


def test_eval_sets_refuse_leakage_before_training_and_bad_names(synthetic_lfw, tmp_path):
    image_dir, pairs = synthetic_lfw
    root = image_dir.parent
    _pack(root, tmp_path / "rec", "--folds", "0-4")
    _pack(pairs, tmp_path / "lfw.bin")
    cfg = _trial(tmp_path / "rec", tmp_path / "lfw.bin", root)
    with pytest.raises(LeakageError, match="eval.sets"):  # the folder's folds 0-4 are the training people
        run_trial({**cfg, "eval.set_folds": ""}, trial_dir=tmp_path / "leak")
    assert not (tmp_path / "leak" / "epochs.jsonl").exists()
    with pytest.raises(ConfigError, match="two sets are named 'lfw'"):
        run_trial({**cfg, "eval.sets": f"{tmp_path / 'lfw.bin'},{root / 'lfw'}"}, trial_dir=tmp_path / "dup")
    with pytest.raises(ConfigError, match="eval.set_folds"):
        run_trial({**cfg, "eval.set_folds": "7-12"}, trial_dir=tmp_path / "folds")
