"""A trial trained from RecordIO and tested on several sets at the end: .bin and folder routes agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facebench.cli import main
from facebench.engine import run_trial
from facebench.errors import ConfigError, DataError, LeakageError

TINY = {
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 1,
    "train.batch_size": 8,
    "data.val_pairs": 16,
    "train.max_steps": 2,
    "eval.batch_size": 64,
    "train.threads": 1,
    "model.backbone": "cnn",
    "loss.name": "arcface",
}


def _pack(src, out, *extra) -> None:
    assert main(["data", "pack", str(src), "--out", str(out), *extra]) == 0


def _trial(rec, binfile, folder, *, folds="5-9", **extra) -> dict:
    return {
        **TINY,
        "data.train": "recordio",
        "data.root": str(rec),
        "data.test_root": str(folder),
        "data.test_folds": folds,
        "eval.sets": f"{binfile},folder={folder}",
        "eval.set_folds": folds,
        **extra,
    }


def _set_rows(trial_dir) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(trial_dir / "artefacts" / "sets.parquet").to_pylist()


def _assert_routes_agree(trial_dir) -> list[dict]:
    rows = _set_rows(trial_dir)
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
    result = run_trial(
        _trial(tmp_path / "rec", tmp_path / "lfw.bin", root), trial_dir=tmp_path / "t", raise_on_error=True
    )
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
    import os
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "evil.bin").write_bytes(pickle.dumps(([b"x"] * 20, [True, False] * 5, Evil())))
    with pytest.raises(DataError, match="refused"):  # before training, and nothing executed
        run_trial({**cfg, "eval.sets": str(tmp_path / "evil.bin")}, trial_dir=tmp_path / "evil")
    assert not marker.exists() and not (tmp_path / "evil" / "epochs.jsonl").exists()


@pytest.fixture
def trained(synthetic_lfw, tmp_path):
    """A tiny trial trained from RecordIO of folds 0-4, plus lfw.bin of all pairs."""
    image_dir, pairs = synthetic_lfw
    _pack(image_dir.parent, tmp_path / "rec", "--folds", "0-4")
    _pack(pairs, tmp_path / "lfw.bin")
    run_trial(
        _trial(tmp_path / "rec", tmp_path / "lfw.bin", image_dir.parent, **{"eval.metric": "cosine"}),
        trial_dir=tmp_path / "t",
        raise_on_error=True,
    )
    return tmp_path / "t", tmp_path / "lfw.bin", image_dir.parent


def test_embed_makes_the_file_eval_pairs_reads_and_eval_model_agrees(trained, tmp_path, capsys):
    run, binfile, root = trained
    rows = _set_rows(run)
    for out in ("emb.npz", "emb.parquet"):
        assert main(["embed", str(run), "--data", str(root), "--out", str(tmp_path / out), "--quiet"]) == 0
    capsys.readouterr()
    from facebench.eval.files import read_embeddings

    names_npz, emb_npz = read_embeddings(tmp_path / "emb.npz")
    names_pq, emb_pq = read_embeddings(tmp_path / "emb.parquet")
    assert names_npz == names_pq and len(names_npz) == 80
    np.testing.assert_allclose(emb_npz, emb_pq)
    # eval pairs on the embeddings of folds 5-9 gives the number the trial recorded for its folder set
    assert (
        main(
            [
                "eval",
                "pairs",
                "--embeddings",
                str(tmp_path / "emb.npz"),
                "--pairs",
                str(root / "pairs.txt"),
                "--metric",
                "cosine",
                "--json",
            ]
        )
        == 0
    )
    full = json.loads(capsys.readouterr().out)
    assert len(full["folds"]) == 10
    assert (
        main(["eval", "model", str(run), "--on", str(binfile), "--on", f"folder={root}", "--folds", "5-9", "--json"])
        == 0
    )
    again = {r["set"]: r for r in json.loads(capsys.readouterr().out)}
    for r in rows:
        assert again[r["set"]]["accuracy_mean"] == pytest.approx(r["accuracy_mean"])
    assert main(["embed", str(run), "--data", str(root), "--out", str(tmp_path / "emb.npz")]) == 2  # never overwritten


def test_eval_model_refuses_leakage_and_hostile_bin(trained, tmp_path, capsys):
    import os
    import pickle

    run, _, root = trained
    assert main(["eval", "model", str(run), "--on", str(root)]) == 2  # folds 0-4 are its training people
    assert "training identities are people of the evaluation pairs" in capsys.readouterr().err
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "evil.bin").write_bytes(pickle.dumps(([b"x"] * 20, [True, False] * 5, Evil())))
    assert main(["eval", "model", str(run), "--on", str(tmp_path / "evil.bin")]) == 2
    err = capsys.readouterr().err.strip()
    assert "refused" in err and "evil.bin" in err and "\n" not in err
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_real_lfw_recordio_and_bin_round_trip(shared_data, tmp_path):
    """The issue's acceptance test on the real LFW copy: folds 0-4 people -> RecordIO, all 6,000 pairs -> lfw.bin,
    a tiny trial trained from the RecordIO, tested on lfw.bin and on the folder (folds 5-9) with equal results."""
    from facebench.data.binset import read_bin

    lfw = shared_data / "lfw"
    _pack(lfw, tmp_path / "rec", "--folds", "0-4")
    _pack(lfw / "pairs.txt", tmp_path / "lfw.bin")
    assert len(read_bin(tmp_path / "lfw.bin")) == 6000
    cfg = _trial(
        tmp_path / "rec",
        tmp_path / "lfw.bin",
        lfw,
        **{"data.limit": 300, "data.image_size": 20, "model.width": 0.0625, "data.val_pairs": 40},
    )
    result = run_trial(cfg, trial_dir=tmp_path / "t", raise_on_error=True)
    assert result["data"]["train_identities"] > 2 and result["data"]["test_pairs"] == 3000
    rows = _assert_routes_agree(tmp_path / "t")
    assert rows[0]["pairs"] == 3000 and rows[0]["folds"] == "5,6,7,8,9"
    assert result["metrics"]["test_accuracy_mean"] == rows[0]["accuracy_mean"]


def test_report_shows_the_papers_table_from_the_sets_table(trained, tmp_path):
    import pyarrow.parquet as pq

    run, _, _ = trained
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    sets = pq.read_table(tmp_path / "report" / "sets.parquet").to_pylist()
    assert {r["set"] for r in sets} == {"lfw", "folder"} and {r["trial_id"] for r in sets} == {run.name}
    md = (tmp_path / "report" / "paper_table.md").read_text().splitlines()
    assert md[0] == "| recipe | LFW | folder | mean |"
    lfw = next(r for r in sets if r["set"] == "lfw")
    assert f"{100 * lfw['accuracy_mean']:.2f} ± {100 * lfw['accuracy_std']:.2f}" in md[2]
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Verification sets (papers&#x27; table)" in page or "Verification sets (papers' table)" in page
