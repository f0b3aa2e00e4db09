"""Embedding/pairs files and `facebench eval`: JSON output, tables, and every bad input (exit 2, named)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from facebench.cli import main
from facebench.eval.files import contiguous_folds, read_embeddings
from facebench.eval.verification import evaluate, pair_scores


@pytest.fixture()
def files(tmp_path):
    """12 people x 3 images, embeddings clustered by person, 40 CSV pairs in 4 folds."""
    rng = np.random.default_rng(0)
    names = [f"P{p}/P{p}_{i:04d}.jpg" for p in range(12) for i in range(1, 4)]
    centers = rng.normal(size=(12, 8))
    emb = np.repeat(centers, 3, axis=0) + 0.8 * rng.normal(size=(36, 8))
    rows, pairs = ["path_a,path_b,same,fold"], []
    for k in range(40):
        p, q = k % 12, (k * 5 + 1) % 12
        same = k % 2 == 0
        if same:  # every pair distinct: a repeated pair is refused as degenerate
            a, b = names[3 * ((k // 2) % 12)], names[3 * ((k // 2) % 12) + 1 + (k // 24) % 2]
        else:
            a, b = names[3 * p + (k // 12) % 3], names[3 * q + 2 - k // 36]
        if not same and p == q:
            b = names[3 * ((q + 1) % 12)]
        rows.append(f"{a},{b},{int(same)},{k % 4}")
        pairs.append((names.index(a), names.index(b), same, k % 4))
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    np.savez(tmp_path / "emb.npz", names=np.array(names), embeddings=emb)
    return tmp_path, names, emb, np.array(pairs)


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # a flag out of its range is argparse's refusal: one line, exit 2 (facebench.cliflags)
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_pairs_json_matches_the_library(files, capsys):
    d, names, emb, pairs = files
    code, out, _ = run(
        capsys,
        "eval",
        "pairs",
        "--embeddings",
        str(d / "emb.npz"),
        "--pairs",
        str(d / "pairs.csv"),
        "--metric",
        "cosine",
        "--json",
    )
    assert code == 0
    j = json.loads(out)
    assert {"accuracy_mean", "accuracy_std", "auc", "eer", "folds", "intersection", "tar_at_far"} <= set(j)
    s, g = pair_scores(emb, pairs[:, 0], pairs[:, 1], metric="cosine")
    r = evaluate(s, pairs[:, 2].astype(bool), pairs[:, 3], greater_is_same=g)
    assert j["accuracy_mean"] == pytest.approx(r.accuracy_mean)
    assert [f["threshold"] for f in j["folds"]] == pytest.approx(r.thresholds.tolist())
    assert len(j["folds"]) == 4


def test_pairs_table_and_parquet_and_refolding(files, capsys):
    d, names, emb, _ = files
    pq.write_table(pa.table({"names": names, "embeddings": [list(r) for r in emb]}), d / "emb.parquet")
    code, out, _ = run(
        capsys, "eval", "pairs", "--embeddings", str(d / "emb.parquet"), "--pairs", str(d / "pairs.csv"), "--folds", "2"
    )
    assert code == 0 and "AUC" in out and "TAR@FAR=0.001" in out and "unresolved" in out
    assert (
        out.splitlines()[0].split()[0] == "fold"
        and len([ln for ln in out.splitlines() if ln[:6].strip() in ("0", "1")]) == 2
    )
    assert contiguous_folds(10, 3).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_pairs_on_the_real_lfw_pairs_file(tmp_path, capsys, shared_data):
    from facebench.data.pairs import read_pairs

    names = read_pairs(shared_data / "lfw" / "pairs.txt").names
    emb = np.random.default_rng(0).normal(size=(len(names), 4))
    np.savez(tmp_path / "e.npz", names=np.array(names), embeddings=emb)
    code, out, _ = run(
        capsys,
        "eval",
        "pairs",
        "--embeddings",
        str(tmp_path / "e.npz"),
        "--pairs",
        str(shared_data / "lfw" / "pairs.txt"),
        "--json",
    )
    j = json.loads(out)
    assert code == 0 and j["n_pairs"] == 6000 and len(j["folds"]) == 10 and 0.45 < j["accuracy_mean"] < 0.55
    assert [t["unresolved"] for t in j["tar_at_far"]] == [False, False, True]


def test_compare_embedding_files(files, capsys):
    d, names, emb, _ = files
    noisy = emb + 3 * np.random.default_rng(1).normal(size=emb.shape)
    np.savez(d / "noisy.npz", names=np.array(names), embeddings=noisy)
    code, out, _ = run(
        capsys,
        "eval",
        "compare",
        str(d / "emb.npz"),
        str(d / "noisy.npz"),
        "--pairs",
        str(d / "pairs.csv"),
        "--json",
        "--n-boot",
        "300",
    )
    j = json.loads(out)
    assert code == 0 and j["ci_low"] <= j["mean_diff"] <= j["ci_high"] and 0 <= j["mcnemar_p"] <= 1
    assert len(j["fold_diff"]) == 4
    code, out, _ = run(
        capsys,
        "eval",
        "compare",
        str(d / "emb.npz"),
        str(d / "noisy.npz"),
        "--pairs",
        str(d / "pairs.csv"),
        "--n-boot",
        "300",
    )
    assert code == 0 and "McNemar" in out and "CI" in out


def _bad_npz(d, **arrays):
    path = d / "bad.npz"
    np.savez(path, **arrays)
    return str(path)


def test_bad_inputs_exit_2_and_name_the_problem(files, capsys):
    d, names, emb, _ = files
    pairs = str(d / "pairs.csv")
    cases = [
        (str(d / "missing.npz"), pairs, "missing.npz: embeddings file not found"),
        (_bad_npz(d, embeddings=emb), pairs, "missing array 'names'"),
        (str(d / "emb.npz"), str(d / "nope.csv"), "nope.csv"),
    ]
    for emb_path, pairs_path, message in cases:
        code, _, err = run(capsys, "eval", "pairs", "--embeddings", emb_path, "--pairs", pairs_path)
        assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # A pair naming an image that has no embedding: the pair index and the name.
    np.savez(d / "short.npz", names=np.array(names[:-3]), embeddings=emb[:-3])
    code, _, err = run(capsys, "eval", "pairs", "--embeddings", str(d / "short.npz"), "--pairs", pairs)
    assert code == 2 and "pair " in err and "'P11/P11_0001.jpg'" in err
    code, _, err = run(capsys, "eval", "pairs", "--embeddings", str(d / "emb.npz"), "--pairs", pairs, "--folds", "-1")
    assert code == 2 and "--folds: -1 is out of range" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "eval", "compare", str(d / "emb.npz"), str(d / "emb.npz"))
    assert code == 2 and "needs --pairs" in err
    # A folder that is not there is "not found", with the path tried, not "an embeddings file needs --pairs".
    code, _, err = run(capsys, "eval", "compare", str(d / "no-such-trial"), str(d / "emb.npz"))
    assert code == 2 and "no-such-trial: not found (looked for /" in err and "needs --pairs" not in err
    # A trial folder given as --embeddings: said so, and what to use instead.
    (d / "trial").mkdir()
    (d / "trial" / "config.json").write_text("{}")
    code, _, err = run(capsys, "eval", "pairs", "--embeddings", str(d / "trial"), "--pairs", pairs)
    assert code == 2 and "is a trial folder, not an embeddings file" in err and "eval compare" in err
    with pytest.raises(SystemExit) as e:  # argparse rejects the choice itself, also with exit 2
        main(["eval", "pairs", "--embeddings", "x", "--pairs", "y", "--metric", "manhattan"])
    assert e.value.code == 2


def test_embedding_file_errors(tmp_path):
    from facebench.errors import DataError

    cases = {
        "NaN": dict(names=np.array(["a", "b"]), embeddings=np.array([[0.0, 1.0], [np.nan, 0.0]])),
        "duplicate name 'a' at rows 0 and 1": dict(names=np.array(["a", "a"]), embeddings=np.zeros((2, 2))),
        "2 names but 3 embedding rows": dict(names=np.array(["a", "b"]), embeddings=np.zeros((3, 2))),
        "numeric (N, D)": dict(names=np.array(["a"]), embeddings=np.zeros(3)),
    }
    for message, arrays in cases.items():
        np.savez(tmp_path / "e.npz", **arrays)
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_embeddings(tmp_path / "e.npz")
    pq.write_table(pa.table({"names": ["a", "b"], "embeddings": [[1.0, 2.0], [1.0]]}), tmp_path / "e.parquet")
    with pytest.raises(DataError, match="row 1 has 1 values, row 0 has 2"):
        read_embeddings(tmp_path / "e.parquet")
    (tmp_path / "e.txt").write_text("x")
    with pytest.raises(DataError, match="unknown embeddings format"):
        read_embeddings(tmp_path / "e.txt")


def test_every_eval_subcommand_has_help(capsys):
    for argv in (["eval", "--help"], ["eval", "pairs", "--help"], ["eval", "compare", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0 and "usage" in capsys.readouterr().out
