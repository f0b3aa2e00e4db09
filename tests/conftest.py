"""Shared fixtures. Every test gets its own decoded-tensor cache, so no test reads or fills ~/.cache."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# A git worktree sits one level deeper than the main checkout; FACEBENCH_SHARED_DATA points at the copy then.
SHARED_DATA = Path(os.environ.get("FACEBENCH_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path_factory.mktemp("facebench-cache")))


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real LFW, CIFAR-10, AT&T); the test is skipped when it is absent."""
    if not (SHARED_DATA / "lfw" / "pairs.txt").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_lfw(tmp_path_factory) -> tuple[Path, Path]:
    """A small LFW-layout folder (20 people x 4 images) + View 2 pairs.txt (10 folds x 6 pairs), written once."""
    from facebench.data import write_synthetic_lfw

    return write_synthetic_lfw(
        tmp_path_factory.mktemp("lfw"), identities=20, images_per_identity=4, folds=10, pairs_per_fold=6, seed=0
    )


def write_cifar_batches(directory: Path, *, per_batch: int = 6, seed: int = 0) -> Path:
    """Tiny CIFAR-10 python batches in the official format (dict of b"data" uint8 (N, 3072), b"labels")."""
    rng = np.random.default_rng(seed)
    batch_dir = directory / "cifar-10-batches-py"
    batch_dir.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, per_batch).tolist(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)],
        }
        with open(batch_dir / name, "wb") as f:
            pickle.dump(batch, f)
    names = [
        c.encode() for c in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    ]
    with open(batch_dir / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": per_batch}, f)
    return batch_dir


@pytest.fixture
def cifar_batches(tmp_path) -> Path:
    return write_cifar_batches(tmp_path)


def pytest_collection_modifyitems(config, items):
    """A test that reads ``../shared/data`` (through the ``shared_data`` fixture) is a ``realdata`` test."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def mixed_sweep(tmp_path_factory) -> Path:
    """A sweep directory of real ``run_trial`` output (tests/real_trials.py MIXED) and a real Optuna study."""
    from real_trials import MIXED, make_sweep

    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEBENCH_CACHE", str(tmp_path_factory.mktemp("facebench-cache")))
        return make_sweep(root, "mixed", MIXED, study=True)


@pytest.fixture(scope="module")
def ray_local():
    """One Ray for the in-process sweeps of a module (run_sweep joins it instead of starting its own)."""
    from facebench.sweep.session import RAY_ENV

    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)
    import ray

    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()
