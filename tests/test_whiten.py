"""eval.whiten: PCA whitening fitted on training embeddings only, against sklearn's PCA(whiten=True); the engine
fits it under the chosen weights, saves it, and `facebench embed` applies the same one."""

from __future__ import annotations

import numpy as np
import pytest

from facebench.errors import DataError
from facebench.eval.whiten import FIT_MAX, fit_rows, fit_whitening


def _data(n=300, d=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 5


def test_matches_sklearn_pca_whiten_up_to_component_signs():
    sklearn = pytest.importorskip("sklearn.decomposition")
    x, y = _data(), _data(n=50, seed=1)
    ours = fit_whitening(x, 10).apply(y)
    ref = sklearn.PCA(n_components=10, whiten=True, svd_solver="full").fit(x).transform(y)
    # a component's sign is arbitrary; Gram matrices (hence every dot product and cosine score) are not
    np.testing.assert_allclose(ours @ ours.T, ref @ ref.T, rtol=1e-4, atol=1e-4)


def test_training_embeddings_come_out_white():
    x = _data()
    z = fit_whitening(x, 12).apply(x).astype(np.float64)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(12), atol=1e-4)


def test_components_capped_by_dimension_and_samples():
    assert fit_whitening(_data(d=6), 128).projection.shape == (6, 6)
    assert fit_whitening(_data(n=4, d=6), 128).projection.shape == (6, 3)


@pytest.mark.parametrize("bad", [np.zeros((1, 4)), np.full((5, 3), np.nan), np.zeros(5)])
def test_degenerate_input_refused(bad):
    with pytest.raises(DataError, match="eval.whiten: needs at least 2 finite training embeddings"):
        fit_whitening(bad, 4)


def test_fit_rows_all_or_a_seeded_subset():
    assert np.array_equal(fit_rows(10), np.arange(10))
    a, b = fit_rows(FIT_MAX + 500, seed=3), fit_rows(FIT_MAX + 500, seed=3)
    assert len(a) == FIT_MAX and np.array_equal(a, b) and np.all(np.diff(a) > 0)


def test_engine_fits_saves_and_embed_applies_it(tmp_path, monkeypatch):
    from facebench.artefacts import ARTEFACTS, WHITENING_NPZ, load_npz
    from facebench.engine import run_trial
    from facebench.engine.use import embed, load_trained

    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path / "cache"))
    cfg = {
        "task": "face",
        "model.backbone": "cnn",
        "loss.name": "ce",
        "data.image_size": 24,
        "model.width": 0.125,
        "train.epochs": 1,
        "train.batch_size": 8,
        "data.synthetic_identities": 8,
        "data.synthetic_images": 4,
        "data.val_pairs": 16,
        "train.max_steps": 2,
        "eval.batch_size": 64,
        "train.threads": 1,
        "model.embedding_size": 16,
    }
    plain = run_trial(cfg, trial_dir=tmp_path / "plain")
    white = run_trial({**cfg, "eval.whiten": 8}, trial_dir=tmp_path / "white")
    assert plain["status"] == white["status"] == "completed"
    saved = load_npz(tmp_path / "white" / ARTEFACTS / WHITENING_NPZ)
    assert saved["projection"].shape == (16, 8)
    assert not (tmp_path / "plain" / ARTEFACTS / WHITENING_NPZ).exists()
    # same seed, same weights: only the scoring differs
    assert (
        plain["metrics"]["test_accuracy_mean"] != white["metrics"]["test_accuracy_mean"]
        or plain["metrics"]["test_auc"] != white["metrics"]["test_auc"]
    )
    t = load_trained(tmp_path / "white")
    images = np.random.default_rng(0).integers(0, 255, size=(5, 24, 24, 3), dtype=np.uint8)
    got = embed(t, images)
    assert got.shape == (5, 8)
    (tmp_path / "white" / ARTEFACTS / WHITENING_NPZ).unlink()
    with pytest.raises(DataError, match="whitening.npz: not found; the trial used eval.whiten=8"):
        load_trained(tmp_path / "white")
