"""The CIFAR confirmation pairs its runs image by image: the engine saves each test image's label and prediction
(predictions.npz), and the stage compares recipes on them (paired bootstrap + McNemar), as it does verification
pairs for faces."""

from __future__ import annotations

import numpy as np
import pytest

from facebench.artefacts import ARTEFACTS, PREDICTIONS_NPZ, load_npz, save_npz
from facebench.engine import run_trial
from facebench.eval.confirmation import compare_to_reference
from facebench.sweep.confirm import _paired_runs

CIFAR = {
    "task": "cifar",
    "model.backbone": "cnn",
    "loss.name": "ce",
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 1,
    "train.batch_size": 8,
    "data.synthetic_identities": 10,
    "data.synthetic_images": 6,
    "train.max_steps": 3,
    "eval.batch_size": 64,
    "train.threads": 1,
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar-confirm")
    out = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEBENCH_CACHE", str(root / "cache"))
        for recipe, lr in enumerate((0.05, 0.001)):
            rs = []
            for seed in (1, 2):
                d = root / f"r{recipe}s{seed}"
                result = run_trial({**CIFAR, "optim.lr": lr, "train.seed": seed}, trial_dir=d)
                rs.append({"trial_dir": str(d), "seed": seed, "accuracy": result["metrics"]["test_accuracy"]})
            out.append(rs)
    return out


def test_predictions_hold_the_test_accuracy(runs):
    for r in (x for rs in runs for x in rs):
        p = load_npz(f"{r['trial_dir']}/{ARTEFACTS}/{PREDICTIONS_NPZ}")
        assert p["label"].shape == p["pred"].shape and len(p["label"]) > 0
        assert np.mean(p["pred"] == p["label"]) == pytest.approx(r["accuracy"])


def test_runs_pair_image_by_image(runs):
    paired = _paired_runs(runs)
    assert paired is not None and [len(p) for p in paired] == [2, 2]
    for rs, ps in zip(runs, paired):
        for r, p in zip(rs, ps):
            assert p.seed == r["seed"] and p.correct.mean() == pytest.approx(r["accuracy"])
            assert np.array_equal(p.fold, np.arange(len(p.fold)) % 10)  # interleaved: every class in every fold
    vs = compare_to_reference(paired[1], paired[0], margin=0.02)
    expected = np.mean([b["accuracy"] - a["accuracy"] for a, b in zip(runs[0], runs[1])])
    assert vs is not None and vs.difference == pytest.approx(expected) and vs.seeds == [1, 2]
    assert vs.ci[0] <= vs.difference <= vs.ci[1] and 0 <= vs.p <= 1 and len(vs.p_mcnemar_per_seed) == 2


def test_runs_on_other_test_images_are_not_paired(runs, tmp_path):
    other = tmp_path / ARTEFACTS
    other.mkdir()
    p = load_npz(f"{runs[1][0]['trial_dir']}/{ARTEFACTS}/{PREDICTIONS_NPZ}")
    save_npz(other / PREDICTIONS_NPZ, label=np.roll(p["label"], 1), pred=p["pred"])
    moved = [runs[0], [{**runs[1][0], "trial_dir": str(tmp_path)}, runs[1][1]]]
    assert _paired_runs(moved) is None
