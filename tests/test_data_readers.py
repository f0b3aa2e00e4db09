"""Readers and `facebench data check` on small fixtures, real data when present, and every bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import write_cifar_batches

from facebench.cli import main
from facebench.data import read_pairs
from facebench.data.cifar import load_cifar_split
from facebench.data.images import Decoding
from facebench.data.layouts import list_att, list_identity_folder, read_cifar_batch
from facebench.errors import DataError

PAIRS_OK = "2\t2\nA\t1\t2\nB\t1\t3\nA\t1\tB\t2\nA\t2\tB\t1\nC\t1\t2\nD\t2\t3\nC\t1\tD\t1\nC\t2\tD\t3\n"


def _write(path, text):
    path.write_text(text)
    return path


def test_read_pairs_lfw_format_in_file_order(tmp_path):
    p = read_pairs(_write(tmp_path / "pairs.txt", PAIRS_OK))
    assert p.a[:3] == ["A/A_0001.jpg", "B/B_0001.jpg", "A/A_0001.jpg"]
    assert p.b[2] == "B/B_0002.jpg"
    assert p.same.tolist() == [True, True, False, False] * 2
    assert p.fold.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert p.people_of_folds() == {0: {"A", "B"}, 1: {"C", "D"}}


def test_read_pairs_csv(tmp_path):
    p = read_pairs(_write(tmp_path / "p.csv", "path_a,path_b,same,fold\nx/a.jpg,x/b.jpg,1,3\nx/a.jpg,y/c.jpg,0,5\n"))
    assert p.a == ["x/a.jpg", "x/a.jpg"] and p.same.tolist() == [True, False] and p.fold.tolist() == [3, 5]
    idx = p.to_index(["x/a.jpg", "x/b.jpg", "y/c.jpg"])
    assert idx.a.tolist() == [0, 0] and idx.b.tolist() == [1, 2] and idx.fold.tolist() == [3, 5]


def test_person_in_two_folds_is_rejected(tmp_path):
    text = PAIRS_OK.replace("C\t1\t2", "A\t3\t4")  # person A in fold 1 too (a new pair, not a duplicate)
    with pytest.raises(DataError, match="'A' appears in folds 0 and 1"):
        read_pairs(_write(tmp_path / "pairs.txt", text)).people_of_folds()


@pytest.mark.parametrize(
    "text, match",
    [
        ("ten\t300\n", r"pairs.txt:1: bad header"),
        (PAIRS_OK.replace("B\t1\t3", "B\t1\t3\t4"), r"pairs.txt:3: expected 3 fields"),
        (PAIRS_OK.replace("A\t1\tB\t2", "A\t1\tB"), r"pairs.txt:4: expected 4 fields"),
        (PAIRS_OK.replace("B\t1\t3", "B\tone\t3"), r"pairs.txt:3: image number must be an integer, got 'one'"),
        ("2\t2\nA\t1\t2\n", r"header promises 2 folds"),
    ],
)
def test_malformed_pairs(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        read_pairs(_write(tmp_path / "pairs.txt", text))


def test_malformed_csv(tmp_path):
    with pytest.raises(DataError, match=r"p.csv:3: expected 4 fields"):
        read_pairs(_write(tmp_path / "p.csv", "path_a,path_b,same,fold\na,b,1,0\na,b,1\n"))
    with pytest.raises(DataError, match=r"p.csv:2: same must be"):
        read_pairs(_write(tmp_path / "p.csv", "path_a,path_b,same,fold\na,b,maybe,0\n"))


def test_identity_folders(tmp_path, synthetic_lfw):
    image_dir, _ = synthetic_lfw
    folders = list_identity_folder(image_dir)
    assert len(folders) == 20 and all(len(v) == 4 for v in folders.values())
    (tmp_path / "empty_person").mkdir()
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "1.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="empty_person: identity folder has no images"):
        list_identity_folder(tmp_path)
    with pytest.raises(DataError, match="not an AT&T folder name"):
        list_att(image_dir)


def test_cifar_batches_reader(cifar_batches):
    images, labels = read_cifar_batch(cifar_batches / "data_batch_1")
    raw = pickle.loads((cifar_batches / "data_batch_1").read_bytes())
    # Known answer: the first 1024 bytes are the red plane, row-major.
    assert images.shape == (6, 32, 32, 3)
    assert images[2, 1, 5, 0] == raw[b"data"][2, 32 + 5] and images[2, 1, 5, 2] == raw[b"data"][2, 2048 + 37]
    assert labels.tolist() == raw[b"labels"]
    train = load_cifar_split(cifar_batches.parent, "train", Decoding(size=32, crop=1.0, color="rgb"))
    assert len(train) == 30 and train.classes[0] == "airplane"
    np.testing.assert_array_equal(train.images[:6], images)


def test_cifar_batch_of_wrong_shape(tmp_path):
    batch_dir = write_cifar_batches(tmp_path)
    with open(batch_dir / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 1000), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(DataError, match=r"data_batch_3: b'data' must be uint8 of shape \(N, 3072\)"):
        load_cifar_split(tmp_path, "train", Decoding(size=32, crop=1.0, color="rgb"))
    assert main(["data", "check", str(tmp_path)]) == 2


def test_check_cli_on_fixtures(synthetic_lfw, cifar_batches, capsys):
    image_dir, pairs = synthetic_lfw
    assert main(["data", "check", str(image_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert "80 images, 20 people" in out and "60 pairs in 10 folds (3 same / 3 different each)" in out
    assert main(["data", "check", str(pairs)]) == 0
    assert main(["data", "check", str(cifar_batches.parent)]) == 0
    assert "30 train / 6 test in 10 classes" in capsys.readouterr().out


def test_check_cli_counts_cifar_batches(cifar_batches, capsys):
    assert main(["data", "check", str(cifar_batches)]) == 0
    assert "30 train / 6 test in 10 classes" in capsys.readouterr().out


def test_check_cli_bad_inputs(tmp_path, synthetic_lfw, capsys):
    image_dir, pairs = synthetic_lfw
    assert main(["data", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a dataset" in err and "Traceback" not in err and err.count("\n") == 1
    lines = pairs.read_text().splitlines()
    person, n1, _ = lines[1].split("\t")
    lines[1] = f"{person}\t{n1}\t9"
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    # Alone, the pairs file is well-formed (no image folder beside it to check against).
    assert main(["data", "check", str(tmp_path / "pairs.txt")]) == 0
    bad = tmp_path / "lfw2"
    bad.mkdir()
    (bad / "pairs.txt").write_text("\n".join(lines) + "\n")
    (bad / "lfw").symlink_to(image_dir)
    assert main(["data", "check", str(bad)]) == 2
    assert f"{person}_0009.jpg" in capsys.readouterr().err


def test_check_real_data(shared_data, capsys):
    assert main(["data", "check", str(shared_data / "lfw")]) == 0
    out = capsys.readouterr().out
    assert "13,233 images, 5,749 people" in out
    assert "6,000 pairs in 10 folds (300 same / 300 different each)" in out
    assert main(["data", "check", str(shared_data / "cifar10")]) == 0
    assert "50,000 train / 10,000 test in 10 classes" in capsys.readouterr().out
    assert main(["data", "check", str(shared_data / "att_faces")]) == 0
    assert "400 images of 40 people" in capsys.readouterr().out


def test_real_pairs_people_are_fold_disjoint(shared_data):
    people = read_pairs(shared_data / "lfw" / "pairs.txt").people_of_folds()
    assert len(people) == 10 and sum(len(p) for p in people.values()) == len(set().union(*people.values()))


def test_data_help(capsys):
    for argv in (
        ["data", "--help"],
        ["data", "check", "--help"],
        ["data", "cache", "--help"],
        ["data", "download", "--help"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "--mirror" in capsys.readouterr().out
