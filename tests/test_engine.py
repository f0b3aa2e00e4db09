"""run_trial end to end on tiny synthetic data: every task, resume equality, seeding, failure semantics, CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from facebench.cli import main
from facebench.config import TrialConfig
from facebench.engine import run_trial
from facebench.errors import ConfigError
from facebench.io import read_jsonl

TINY = {
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 2,
    "train.batch_size": 8,
    "data.synthetic_identities": 8,
    "data.synthetic_images": 4,
    "data.val_pairs": 16,
    "train.max_steps": 2,
    "eval.batch_size": 64,
    "train.threads": 1,
}
FACE = {**TINY, "task": "face", "model.backbone": "cnn", "loss.name": "arcface"}
TASKS = {
    "face": {
        **TINY,
        "task": "face",
        "model.backbone": "resnet18",
        "loss.name": "arcface",
        "schedule.warmup_epochs": 0.5,
        "train.augment": "crop_flip_jitter",
    },
    "autoencoder": {**TINY, "task": "autoencoder", "model.backbone": "vae", "loss.name": "vae", "model.depth": 2},
    "cifar": {
        **TINY,
        "task": "cifar",
        "model.backbone": "cnn",
        "loss.name": "cosface",
        "optim.name": "sgd",
        "optim.nesterov": True,
        "schedule.name": "onecycle",
    },
}
# Metrics that depend only on the seed, not on timing.
DETERMINISTIC = ("train_loss", "train_accuracy", "lr", "val_accuracy", "val_auc", "val_loss")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def deterministic(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in DETERMINISTIC if k in r} for r in rows]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_trains_reports_and_writes_its_trial_dir(task, tmp_path):
    rows: list[dict] = []
    result = run_trial(TASKS[task], rows.append, trial_dir=tmp_path, raise_on_error=True)
    assert result["status"] == "completed", result["reason"]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert read_jsonl(tmp_path / "epochs.jsonl") == json.loads(json.dumps(rows))
    for key in ("train_loss", "lr", "images_per_s", "epoch_s", "peak_mem_mb", "val_accuracy"):
        assert np.isfinite(rows[-1][key]), key
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["status"] == "completed" and saved["config"]["task"] == task
    assert saved["meta"]["versions"]["torch"] and saved["meta"]["seed"] == 0
    m = result["metrics"]
    metric = "val_accuracy"  # train.objective "auto"
    assert m["params"] > 0 and m["flops"] > 0 and m["objective"] == max(r[metric] for r in rows)
    chosen = max(rows, key=lambda r: r[metric])
    assert m["objective_epoch"] == chosen["epoch"] and m["objective_se"] == chosen[f"{metric}_se"] > 0
    assert saved["selection"] == {
        "metric": metric,
        "mode": "max",
        "select": "best",
        "objective": m["objective"],
        "objective_se": m["objective_se"],
        "objective_epoch": m["objective_epoch"],
    }
    art = tmp_path / "artefacts"
    epochs = pq.read_table(art / "epochs.parquet").to_pylist()  # the table the report reads: the same rows
    assert [{k: e[k] for k in r} for e, r in zip(epochs, rows)] == json.loads(json.dumps(rows)) and len(epochs) == 2
    if task == "cifar":
        assert 0 <= m["test_accuracy"] <= 1 and "val_loss" in rows[0]
        cm = np.array(json.loads((art / "classification.json").read_text())["confusion_matrix"])
        assert cm.shape == (10, 10) and cm.sum() > 0
        conf = pq.read_table(art / "confusion.parquet").to_pydict()
        assert conf["count"] == cm.ravel().tolist()
    else:
        v = np.load(art / "verification.npz")
        assert len(v["scores"]) == len(v["same"]) == len(v["fold"]) and len(v["thresholds"]) == 10
        assert m["test_accuracy_mean"] == pytest.approx(v["fold_accuracy"].mean())
        assert (art / "val_verification.npz").exists()
        folds = pq.read_table(art / "folds.parquet").to_pydict()
        assert folds["accuracy"] == v["fold_accuracy"].tolist() and folds["threshold"] == v["thresholds"].tolist()
        assert 2 < pq.read_table(art / "roc.parquet").num_rows <= 100
    if task == "autoencoder":
        assert {"train_recon", "train_kld", "train_beta"} <= set(rows[0])
        r = np.load(art / "recon.npz")
        assert r["original"].shape == r["recon"].shape and r["recon"].dtype == np.uint8
        assert (art / "recon.png").stat().st_size > 0
        lat = np.load(art / "latents.npz")
        assert lat["kl_per_dim"].shape == lat["mu_variance"].shape and m["test_kld"] >= 0


def test_same_seed_same_metrics_and_resume_equals_uninterrupted(tmp_path):
    a, b, c = [], [], []
    run_trial(FACE, a.append, trial_dir=tmp_path / "a", raise_on_error=True)
    run_trial(FACE, b.append, trial_dir=tmp_path / "b", raise_on_error=True)
    assert deterministic(a) == deterministic(b)
    # Interrupted after epoch 1 (the caller stops it), then resumed to the end in the same directory.
    stopped = run_trial(FACE, c.append, trial_dir=tmp_path / "c", should_stop=lambda: True, raise_on_error=True)
    assert stopped["status"] == "stopped" and "epoch 1" in stopped["reason"] and len(c) == 1
    resumed = run_trial(FACE, c.append, trial_dir=tmp_path / "c", raise_on_error=True)
    assert resumed["status"] == "completed" and [r["epoch"] for r in c] == [1, 2]
    assert deterministic(c) == deterministic(a)
    assert deterministic(read_jsonl(tmp_path / "c" / "epochs.jsonl")) == deterministic(a)
    first = json.loads((tmp_path / "a" / "result.json").read_text())["metrics"]
    for key in ("test_accuracy_mean", "test_auc", "objective", "objective_epoch"):
        assert resumed["metrics"][key] == first[key]
    np.testing.assert_array_equal(
        np.load(tmp_path / "c" / "artefacts" / "verification.npz")["scores"],
        np.load(tmp_path / "a" / "artefacts" / "verification.npz")["scores"],
    )
    other = []
    run_trial({**FACE, "train.seed": 1}, other.append, trial_dir=tmp_path / "d", raise_on_error=True)
    assert other[0]["train_loss"] != a[0]["train_loss"]  # the equalities above are not vacuous


def test_resume_with_another_config_is_a_clear_error_and_overwrite_starts_afresh(tmp_path):
    run_trial({**FACE, "train.epochs": 1}, trial_dir=tmp_path, raise_on_error=True)
    with pytest.raises(ConfigError, match=r"optim\.lr: there 0\.001 vs now 0\.002"):
        run_trial({**FACE, "train.epochs": 1, "optim.lr": 0.002}, trial_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"--overwrite"):  # --no-resume alone does not replace a finished trial
        run_trial({**FACE, "train.epochs": 1, "optim.lr": 0.002}, trial_dir=tmp_path, resume=False)
    (tmp_path / "result.json").unlink()  # an unfinished trial: the checkpoint's config is what is checked
    with pytest.raises(ConfigError, match=r"optim\.lr: checkpoint 0\.001 vs now 0\.002"):
        run_trial({**FACE, "train.epochs": 1, "optim.lr": 0.002}, trial_dir=tmp_path)
    (tmp_path / "artefacts" / "notes.txt").write_text("the user's own notes\n")  # a user's file: never deleted
    (tmp_path / "artefacts" / "old.verification.npz.bak").write_bytes(b"mine")
    stale = tmp_path / "artefacts" / "stale.npz"  # a name the engine writes: removed, not mixed into the new run
    stale.write_bytes(b"x")
    rows = []
    result = run_trial(
        {**FACE, "train.epochs": 1, "optim.lr": 0.002}, rows.append, trial_dir=tmp_path, resume=False, overwrite=True
    )
    assert result["status"] == "completed" and len(rows) == 1
    assert len(read_jsonl(tmp_path / "epochs.jsonl")) == 1
    assert (tmp_path / "artefacts" / "notes.txt").read_text() == "the user's own notes\n"
    assert (tmp_path / "artefacts" / "old.verification.npz.bak").read_bytes() == b"mine" and not stale.exists()
    assert (tmp_path / "artefacts" / "verification.npz").is_file()


def test_divergence_fails_the_trial_with_epoch_step_and_component(tmp_path):
    cfg = TrialConfig.from_dict({**FACE, "optim.name": "sgd", "schedule.name": "none", "optim.weight_decay": 0.0})
    # An LR past optim.lr's range (which refuses it in a config) is the sure way to overflow the weights at once.
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=1e30))
    result = run_trial(cfg, trial_dir=tmp_path)
    assert result["status"] == "failed"
    assert "non-finite" in result["reason"] and "epoch 1" in result["reason"]
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["status"] == "failed" and saved["reason"] == result["reason"] and saved["config"]["optim.lr"] == 1e30


def test_exception_in_training_is_a_failed_result_or_raised_on_request(tmp_path, monkeypatch):
    from facebench.engine import tasks

    def boom(self, x, y, *, epoch):
        raise RuntimeError("kaput in the step")

    monkeypatch.setattr(tasks.ClassificationTask, "train_step", boom)
    result = run_trial(FACE, trial_dir=tmp_path / "a")
    assert result["status"] == "failed" and result["reason"] == "RuntimeError: kaput in the step"
    saved = json.loads((tmp_path / "a" / "result.json").read_text())
    assert "kaput in the step" in saved["traceback"] and saved["config"]["task"] == "face"
    with pytest.raises(RuntimeError, match="kaput"):
        run_trial(FACE, trial_dir=tmp_path / "b", raise_on_error=True)

    def oom(self, x, y, *, epoch):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(tasks.ClassificationTask, "train_step", oom)
    assert run_trial(FACE, trial_dir=tmp_path / "c")["reason"] == "out of memory"


def test_fp16_on_cpu_is_refused_and_bf16_trains(tmp_path):
    with pytest.raises(ConfigError, match="train.amp: 'fp16' needs a CUDA device"):
        run_trial({**FACE, "train.device": "cpu", "train.amp": "fp16"}, trial_dir=tmp_path / "a")
    result = run_trial(
        {
            **FACE,
            "train.device": "cpu",
            "train.amp": "bf16",
            "train.epochs": 1,
            "train.channels_last": True,
            "optim.grad_clip": 1.0,
        },
        trial_dir=tmp_path / "b",
        raise_on_error=True,
    )
    assert result["status"] == "completed"


def test_cli_train_writes_the_trial_dir_and_bad_set_exits_2(tmp_path, capsys):
    sets = [a for k, v in {**FACE, "train.epochs": 1}.items() for a in ("--set", f"{k}={v}")]
    out = tmp_path / "trial"
    assert main(["train", *sets, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "completed" in printed and "test_accuracy_mean" in printed
    assert {"config.json", "meta.json", "epochs.jsonl", "result.json", "checkpoint.pt"} <= {
        p.name for p in out.iterdir()
    }
    assert main(["train", "--set", "optim.name=lion", "--out", str(tmp_path / "x")]) == 2
    assert "optim.name" in capsys.readouterr().err
    assert main(["train", "--set", "train.epochs", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("select", ["best", "last"])
def test_the_tested_model_is_the_epoch_the_objective_chose(select, tmp_path):
    """train.select=best keeps the best epoch's weights and tests them; last tests the final epoch. The chosen
    model's validation AUC, recomputed in the final pass, equals that epoch's logged value."""
    cfg = {**FACE, "train.epochs": 3, "optim.lr": 0.05, "train.objective": "val_auc", "train.select": select}
    rows: list[dict] = []
    m = run_trial(cfg, rows.append, trial_dir=tmp_path, raise_on_error=True)["metrics"]
    best = max(rows, key=lambda r: r["val_auc"])
    chosen = best if select == "best" else rows[-1]
    assert best["epoch"] != rows[-1]["epoch"]  # this config peaks before its last epoch: the check is not vacuous
    assert m["objective_epoch"] == chosen["epoch"] and m["objective"] == chosen["val_auc"]
    assert [r["objective"] for r in rows] == (
        [max(r["val_auc"] for r in rows[: i + 1]) for i in range(3)]
        if select == "best"
        else [r["val_auc"] for r in rows]
    )
    from facebench.artefacts import read_verification_npz
    from facebench.eval.verification import evaluate

    v = read_verification_npz(tmp_path / "artefacts" / "val_verification.npz")
    assert evaluate(v["scores"], v["same"], v["fold"], greater_is_same=bool(v["greater_is_same"])).auc == pytest.approx(
        chosen["val_auc"], abs=1e-12
    )


def test_selection_never_sees_the_test_pairs(tmp_path, monkeypatch):
    """Every test label flipped: the epochs, the running objective and the chosen epoch are unchanged; only the
    test metrics move. So no choice (epoch, objective, Tune's and Optuna's number) depends on the test pairs."""
    import dataclasses

    import facebench.data

    cfg = {**FACE, "train.epochs": 3, "optim.lr": 0.05}
    honest: list[dict] = []
    a = run_trial(cfg, honest.append, trial_dir=tmp_path / "a", raise_on_error=True)["metrics"]
    real = facebench.data.build_task_data

    def flipped(config, **kw):
        data = real(config, **kw)
        pairs = data.test_pairs
        return dataclasses.replace(data, test_pairs=type(pairs)(pairs.a, pairs.b, ~pairs.same, pairs.fold))

    monkeypatch.setattr(facebench.data, "build_task_data", flipped)
    rows: list[dict] = []
    b = run_trial(cfg, rows.append, trial_dir=tmp_path / "b", raise_on_error=True)["metrics"]
    assert deterministic(rows) == deterministic(honest)
    assert [r["objective"] for r in rows] == [r["objective"] for r in honest]
    assert (b["objective"], b["objective_epoch"]) == (a["objective"], a["objective_epoch"])
    assert b["test_accuracy_mean"] != a["test_accuracy_mean"]  # the flip did reach the test protocol
