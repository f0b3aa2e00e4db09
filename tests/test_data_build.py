"""build_task_data per task, the synthetic generator, validation splits and the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest

from facebench.config import TrialConfig
from facebench.data import build_task_data, check_no_leakage, read_pairs, synthetic_faces
from facebench.data.pairs import person_of
from facebench.data.splits import draw_pairs
from facebench.errors import ConfigError, LeakageError


def _cfg(**kv):
    return TrialConfig.from_dict(kv)


def test_synthetic_is_deterministic_and_seeded():
    a = synthetic_faces(identities=6, images_per_identity=3, seed=1)
    b = synthetic_faces(identities=6, images_per_identity=3, seed=1)
    c = synthetic_faces(identities=6, images_per_identity=3, seed=2)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (18, 64, 64, 3) and a.labels.tolist() == np.repeat(np.arange(6), 3).tolist()


def test_synthetic_identity_is_learnable_but_not_trivial():
    f = synthetic_faces(identities=12, images_per_identity=6, seed=0)
    x = f.images.reshape(len(f), -1).astype(np.float32)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    same = f.labels[:, None] == f.labels[None]
    off = ~np.eye(len(f), dtype=bool)
    # Same-identity images are closer on average, but raw pixels do not separate identities perfectly.
    assert d[same & off].mean() < d[~same].mean()
    np.fill_diagonal(d, np.inf)
    nn_acc = (f.labels[d.argmin(1)] == f.labels).mean()
    assert 0.2 < nn_acc < 1.0


def test_face_task_on_synthetic():
    td = build_task_data(_cfg(**{"data.image_size": 32}))
    assert td.train.images.shape[1:] == (32, 32, 3) and td.train.images.dtype == np.uint8
    assert td.train.labels.min() == 0 and td.train.labels.max() == td.num_classes - 1
    assert not (td.train.identities & td.val.identities)  # validation identities are held out
    assert not ((td.train.identities | td.val.identities) & td.test.identities)
    for data, pairs in ((td.val, td.val_pairs), (td.test, td.test_pairs)):
        same = data.labels[pairs.a] == data.labels[pairs.b]
        np.testing.assert_array_equal(same, pairs.same)
        assert pairs.same.sum() == (~pairs.same).sum() and pairs.num_folds >= 2
        for f in range(pairs.num_folds):  # each identity is in exactly one fold
            sel = pairs.fold == f
            ids = set(data.labels[pairs.a[sel]]) | set(data.labels[pairs.b[sel]])
            other = set(data.labels[pairs.a[~sel]]) | set(data.labels[pairs.b[~sel]])
            assert not ids & other
    assert td.test_pairs.num_folds == 10 and td.describe["test"] == "synthetic"


def test_val_split_depends_on_seed_only():
    small = {"data.synthetic_identities": 16, "data.synthetic_images": 3, "data.image_size": 16}
    a, b = build_task_data(_cfg(**small)), build_task_data(_cfg(**small))
    c = build_task_data(_cfg(**small, **{"train.seed": 5}))
    assert a.val.identities == b.val.identities != c.val.identities
    np.testing.assert_array_equal(a.val_pairs.a, b.val_pairs.a)


def test_cifar_task_on_synthetic():
    td = build_task_data(_cfg(task="cifar", **{"data.image_size": 32, "data.color": "gray"}))
    assert td.num_classes == 10 and td.val_pairs is None and td.test_pairs is None
    assert td.train.images.shape[1:] == (32, 32, 1)
    assert set(np.unique(td.val.labels)) == set(range(10)) and set(np.unique(td.test.labels)) == set(range(10))
    assert not set(td.train.names) & set(td.val.names) and not set(td.train.names) & set(td.test.names)


def test_cifar_task_on_batches(cifar_batches):
    td = build_task_data(
        _cfg(
            task="cifar",
            **{
                "data.train": "cifar10",
                "data.root": str(cifar_batches.parent),
                "data.image_size": 32,
                "data.val_fraction": 0.2,
            },
        )
    )
    assert len(td.train) + len(td.val) == 30 and len(td.test) == 6 and td.num_classes == 10


def test_lfw_people_trains_on_train_folds_tests_on_others(synthetic_lfw):
    image_dir, pairs_path = synthetic_lfw
    cfg = _cfg(
        **{
            "data.train": "lfw_people",
            "data.root": str(image_dir.parent),
            "data.train_folds": "0-5",
            "data.image_size": 32,
            "data.val_fraction": 0.2,
        }
    )
    td = build_task_data(cfg)
    people = read_pairs(pairs_path).people_of_folds()
    train_people = set().union(*(people[f] for f in range(6)))
    assert td.train.identities | td.val.identities == train_people
    assert td.test.identities == set().union(*(people[f] for f in range(6, 10)))
    assert td.describe["test_folds_original"] == [6, 7, 8, 9] and td.test_pairs.num_folds == 4
    assert sorted(set(td.test_pairs.fold.tolist())) == [6, 7, 8, 9]  # the file's fold ids, not 0-3
    assert len(td.test_pairs) == 24
    np.testing.assert_array_equal(
        td.test.labels[td.test_pairs.a] == td.test.labels[td.test_pairs.b], td.test_pairs.same
    )


def test_identity_folder_tested_on_all_lfw_folds(synthetic_lfw, tmp_path):
    from PIL import Image

    for k in range(6):
        (tmp_path / f"id{k}").mkdir()
        for j in range(3):
            Image.fromarray(np.full((40, 40, 3), 30 * k + j, np.uint8)).save(tmp_path / f"id{k}" / f"{j}.jpg")
    image_dir, _ = synthetic_lfw
    td = build_task_data(
        _cfg(
            **{
                "data.train": "identity_folder",
                "data.root": str(tmp_path),
                "data.test_root": str(image_dir.parent),
                "data.image_size": 16,
            }
        )
    )
    assert len(td.train) + len(td.val) == 18 and td.test_pairs.num_folds == 10 and len(td.test_pairs) == 60


def test_leaking_config_is_refused(synthetic_lfw):
    image_dir, _ = synthetic_lfw
    # Training on the LFW people themselves and testing on LFW's pairs: every test person leaks.
    cfg = _cfg(
        **{
            "data.train": "identity_folder",
            "data.root": str(image_dir),
            "data.test": "lfw",
            "data.test_root": str(image_dir.parent),
            "data.image_size": 16,
        }
    )
    with pytest.raises(LeakageError, match=r"20 training identities are people of the evaluation pairs"):
        build_task_data(cfg)


def test_check_no_leakage_known_answer():
    check_no_leakage({"a", "b"}, {"c"})
    with pytest.raises(LeakageError, match=r"2 training identities .* \(e.g. b, c\)"):
        check_no_leakage({"a", "b", "c"}, {"b", "c", "d"})


def test_bad_fold_spec_and_min_images(synthetic_lfw):
    image_dir, _ = synthetic_lfw
    base = {"data.train": "lfw_people", "data.root": str(image_dir.parent)}
    with pytest.raises(ConfigError, match="data.train_folds"):
        build_task_data(_cfg(**base, **{"data.train_folds": "0-12"}))
    with pytest.raises(ConfigError, match="leaves no LFW fold"):
        build_task_data(_cfg(**base, **{"data.train_folds": "0-9"}))
    with pytest.raises(ConfigError, match="data.min_images"):
        build_task_data(_cfg(**base, **{"data.min_images": 50}))


def test_missing_lfw_root_says_what_was_looked_for(tmp_path, monkeypatch):
    from facebench.errors import DataError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        build_task_data(_cfg(**{"data.train": "lfw_people", "data.root": "shared/data/lfw"}))
    msg = str(e.value)
    assert msg.startswith("data.root='shared/data/lfw': LFW root not found")
    assert str(tmp_path / "shared/data/lfw") in msg and "lfw-deepfunneled/<Person>/<Person>_<NNNN>.jpg" in msg


def test_draw_pairs_balanced_and_distinct():
    labels = np.repeat(np.arange(10), 5)
    p = draw_pairs(labels, pairs=40, folds=5, seed=0)
    assert len(p) == 40 and p.same.sum() == 20 and p.num_folds == 5
    same_pairs = {(a, b) for a, b, s in zip(p.a, p.b, p.same) if s}
    assert len(same_pairs) == 20 and all(a != b for a, b in same_pairs)


def test_real_lfw_people_no_leakage(shared_data):
    td = build_task_data(
        _cfg(
            **{
                "data.train": "lfw_people",
                "data.root": str(shared_data / "lfw"),
                "data.image_size": 16,
                "data.limit": 200,
            }
        )
    )
    test_people = {person_of(n) for n in td.test.names}
    assert not (td.train.identities | td.val.identities) & test_people
    assert len(td.test_pairs) == 3000 and td.describe["test_folds_original"] == [5, 6, 7, 8, 9]
