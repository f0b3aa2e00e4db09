"""facebench export + eval model MODEL.onnx: onnxruntime against torch on the same images and pairs.

The oracle of each parity check is the other runtime: the trial's own torch path (``facebench.engine.use``)
against onnxruntime on the exported file, compared as L2-normalised embeddings (max abs 1e-4, fp32) and as
verification accuracy on the same pairs.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from facebench.cli import main

TINY = {
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
VARIANTS = {
    "whiten_flip_sum": {"eval.whiten": 8, "eval.flip": "sum"},
    "flip_concat_normalized": {"eval.flip": "concat", "eval.normalize": True, "eval.metric": "euclidean"},
    "vae_mean": {"task": "autoencoder", "model.backbone": "vae", "loss.name": "vae", "model.embedding_size": 8},
}


def unit(e: np.ndarray) -> np.ndarray:
    e = np.asarray(e, dtype=np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def png_bin(path, images: np.ndarray, same: list[bool]) -> None:
    from PIL import Image

    from facebench.data.binset import write_bin

    blobs = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="PNG")
        blobs.append(buf.getvalue())
    write_bin(path, blobs, same)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Three tiny trials (whitened + flip sum; flip concat + L2 + euclidean; a VAE), each exported once, all
    tested on a 40-pair .bin set of random images (``eval.sets``, so each trial saved its own scores on it)."""
    import os

    from facebench.engine import run_trial

    root = tmp_path_factory.mktemp("deploy")
    old = os.environ.get("FACEBENCH_CACHE")
    os.environ["FACEBENCH_CACHE"] = str(root / "cache")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(80, 24, 24, 3), dtype=np.uint8)
    png_bin(root / "rand.bin", images, [bool(i % 2) for i in range(40)])
    out = {"root": root, "bin": root / "rand.bin", "images": images}
    try:
        for name, extra in VARIANTS.items():
            cfg = {k: v for k, v in {**TINY, **extra, "eval.sets": str(root / "rand.bin")}.items() if v is not None}
            res = run_trial(cfg, trial_dir=root / name)
            assert res["status"] == "completed", res.get("reason")
            assert main(["export", str(root / name), "--format", "onnx", "--out", str(root / f"{name}.onnx")]) == 0
    finally:
        os.environ.pop("FACEBENCH_CACHE") if old is None else os.environ.__setitem__("FACEBENCH_CACHE", old)
    return out


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_onnxruntime_matches_torch_on_synthetic_images(exported, name):
    from facebench.deploy.evaluate import onnx_embed, resolve_convention
    from facebench.deploy.onnxfile import read_model, session
    from facebench.engine.use import embed, load_trained

    m = read_model(exported["root"] / f"{name}.onnx")
    conv = resolve_convention(m)
    assert conv.source == "facebench" and conv.evaluator_flip == "none"
    assert not isinstance(m.input_shape[0], int)  # the batch dimension is dynamic
    sess = session(m)
    t = load_trained(exported["root"] / name)
    images = np.random.default_rng(1).integers(0, 256, size=(9, 24, 24, 3), dtype=np.uint8)
    ref = embed(t, images)
    for batch in (1, 4, 9):  # batch sizes other than the one traced with
        got = onnx_embed(sess, m, conv, images, batch_size=batch)
        assert got.shape == ref.shape
        assert np.abs(unit(got) - unit(ref)).max() < 1e-4
    if name == "whiten_flip_sum":
        assert ref.shape[1] == 8 and conv.whiten == 8  # the whitening is in the graph: 16-d encoder -> 8
    if name == "flip_concat_normalized":
        assert ref.shape[1] == 32 and conv.l2_normalize and conv.metric == "euclidean"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_eval_model_onnx_gives_the_trials_accuracy_on_the_same_pairs(exported, name, capsys, tmp_path):
    from facebench.artefacts import ARTEFACTS, read_verification_npz

    onnx_path, saved = exported["root"] / f"{name}.onnx", tmp_path / "onnx_eval"
    assert main(["eval", "model", str(onnx_path), "--on", str(exported["bin"]), "--save", str(saved), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    trial = read_verification_npz(exported["root"] / name / ARTEFACTS / "sets" / "rand.npz")
    ours = read_verification_npz(saved)
    assert np.array_equal(ours["same"], trial["same"]) and np.array_equal(ours["fold"], trial["fold"])
    assert np.abs(ours["scores"] - trial["scores"]).max() < 1e-4
    trial_rows = json.loads(
        _run(capsys, ["eval", "model", str(exported["root"] / name), "--on", str(exported["bin"]), "--json"])
    )
    assert res["rows"][0]["accuracy_mean"] == trial_rows[0]["accuracy_mean"]
    out = _run(
        capsys,
        ["eval", "compare", str(saved), str(exported["root"] / name / ARTEFACTS / "sets" / "rand.npz"), "--json"],
    )
    c = json.loads(out)
    assert c["only_a_correct"] == c["only_b_correct"] == 0 and c["mean_diff"] == 0
    from facebench.errors import DataError
    from facebench.report.reference_model import parse_reference_models

    assert parse_reference_models([f"exported={saved}"]) == [("exported", res["rows"][0]["accuracy_mean"])]
    with pytest.raises(DataError, match="not a result of `facebench eval model"):
        parse_reference_models([f"x={exported['root'] / name / 'result.json'}"])  # a trial's result is not one


def _run(capsys, argv: list[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_metadata_records_the_protocol_and_where_each_step_lives(exported):
    import onnx

    from facebench import __version__

    meta = {p.key: p.value for p in onnx.load(str(exported["root"] / "whiten_flip_sum.onnx")).metadata_props}
    want = {
        "facebench.format": "facebench-embedding/1",
        "facebench.version": __version__,
        "facebench.input_size": "24",
        "facebench.crop": "1.0",
        "facebench.color": "rgb",
        "facebench.channel_order": "RGB",
        "facebench.layout": "NCHW",
        "facebench.input_mean": "127.5",
        "facebench.input_std": "127.5",
        "facebench.evaluator_flip": "none",
        "facebench.flip_in_graph": "sum",
        "facebench.whiten": "8",
        "facebench.l2_normalize": "false",
        "facebench.metric": "cosine",
    }
    assert {k: meta.get(k) for k in want} == want
    assert "whitening" in meta["facebench.graph_steps"] and "L2" in meta["facebench.evaluator_steps"]


def test_export_refuses_unexportable_trials_and_foreign_files(exported, tmp_path, capsys):
    import shutil

    root = exported["root"]
    foreign = tmp_path / "mine.onnx"
    foreign.write_bytes(b"my own model")
    cases = [
        ([str(root / "whiten_flip_sum"), "--out", str(foreign)], "was not written by facebench export"),
        ([str(tmp_path), "--out", str(tmp_path / "a.onnx")], "no result.json; not a trial directory, or the trial"),
        ([str(root / "whiten_flip_sum"), "--out", str(tmp_path / "a.txt")], "--out must end in .onnx"),
    ]
    failed = tmp_path / "failed"
    shutil.copytree(root / "whiten_flip_sum", failed)
    result = json.loads((failed / "result.json").read_text())
    (failed / "result.json").write_text(json.dumps({**result, "status": "failed"}))
    cases.append(([str(failed), "--out", str(tmp_path / "b.onnx")], "status 'failed'; only a completed or stopped"))
    for argv, message in cases:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert foreign.read_bytes() == b"my own model"
    # a file facebench wrote is replaced
    again = root / "whiten_flip_sum.onnx"
    before = again.stat().st_mtime_ns
    assert main(["export", str(root / "whiten_flip_sum"), "--out", str(again)]) == 0
    assert again.stat().st_mtime_ns != before


def test_onnx_only_flags_refused_for_a_trial(exported, capsys):
    argv = ["eval", "model", str(exported["root"] / "vae_mean"), "--on", str(exported["bin"]), "--crop", "0.5"]
    assert main(argv) == 2
    assert "--crop applies to an .onnx model" in capsys.readouterr().err


def test_real_lfw_parity_with_whitening(shared_data, tmp_path, capsys):
    """A tiny model trained on real LFW people (folds 0-4), whitened, flip-summed: the exported file gives the
    trial's own test accuracy on LFW folds 8-9 and the same L2-normalised embeddings of real images."""
    from facebench.artefacts import read_verification_npz
    from facebench.engine import run_trial

    cfg = {
        **TINY,
        "data.root": str(shared_data / "lfw"),
        "data.train": "lfw_people",
        "data.train_folds": "0-4",
        "data.limit": 200,
        "data.crop": 0.6,
        "data.test_folds": "8-9",
        "data.val_pairs": 200,
        "eval.whiten": 8,
        "eval.flip": "sum",
    }
    for k in ("data.synthetic_identities", "data.synthetic_images"):
        cfg.pop(k)
    res = run_trial(cfg, trial_dir=tmp_path / "t")
    assert res["status"] == "completed", res.get("reason")
    assert main(["export", str(tmp_path / "t"), "--out", str(tmp_path / "t.onnx")]) == 0
    lfw = str(shared_data / "lfw")
    assert (
        main(["eval", "model", str(tmp_path / "t.onnx"), "--on", lfw, "--folds", "8-9", "--save", str(tmp_path / "e")])
        == 0
    )
    ours, trial = read_verification_npz(tmp_path / "e"), read_verification_npz(tmp_path / "t")
    assert np.array_equal(ours["same"], trial["same"]) and len(ours["same"]) == 1200
    assert np.abs(ours["scores"] - trial["scores"]).max() < 1e-4
    assert np.array_equal(ours["fold_accuracy"], trial["fold_accuracy"])
    capsys.readouterr()
