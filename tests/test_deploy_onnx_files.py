"""eval model MODEL.onnx on models built with onnx's helper API: the InsightFace convention against a numpy
oracle, and malformed or hostile files refused with one line (exit 2) before onnxruntime runs anything."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

from facebench.cli import main

SIZE, D = 8, 6
RNG = np.random.default_rng(3)
W = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
B = RNG.normal(size=4).astype(np.float32)
G = RNG.normal(size=(4 * (SIZE - 2) ** 2, D)).astype(np.float32)


def model(*, normalise: bool = False, inputs=None, extra_outputs=(), poison: bool = False):
    """Sub/Mul normalisation (InsightFace's mxnet export names) or none; Conv 3x3, Flatten, Gemm -> D."""
    nodes, first = [], "data"
    if normalise:
        nodes += [
            helper.make_node("Sub", ["data", "mean"], ["centred"], name="Sub_0"),
            helper.make_node("Mul", ["centred", "scale"], ["normed"], name="Mul_1"),
        ]
        first = "normed"
    nodes += [
        helper.make_node("Conv", [first, "W", "B"], ["conv"], name="conv0"),
        helper.make_node("Flatten", ["conv"], ["flat"], name="flat0"),
        helper.make_node("Gemm", ["flat", "G"], ["fc"], name="fc0"),
    ]
    out = "fc"
    if poison:  # log of a negative number: NaN embeddings
        nodes.append(helper.make_node("Log", ["fc"], ["logged"], name="log0"))
        out = "logged"
    nodes += [helper.make_node("Identity", [out], [name], name=f"id_{name}") for name in ("embedding", *extra_outputs)]
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in ((W, "W"), (B, "B"), (G, "G"), (np.float32([127.5]), "mean"), (np.float32([1 / 127.5]), "scale"))
    ]
    inputs = inputs or [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", D]) for n in ("embedding", *extra_outputs)]
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def oracle(images: np.ndarray) -> np.ndarray:
    """The same embedding in numpy: (x - 127.5) / 127.5, 3x3 valid convolution, flatten, matmul."""
    x = (images.astype(np.float64).transpose(0, 3, 1, 2) - 127.5) / 127.5
    n, k = len(x), SIZE - 2
    conv = np.zeros((n, 4, k, k))
    for i in range(3):
        for j in range(3):
            conv += np.einsum("nchw,oc->nohw", x[:, :, i : i + k, j : j + k], W[:, :, i, j])
    conv += B[None, :, None, None]
    return conv.reshape(n, -1) @ G


@pytest.mark.parametrize("normalise", [False, True])
def test_insightface_convention_on_a_bin_set_matches_a_numpy_oracle(tmp_path, capsys, normalise):
    import json

    from test_deploy import png_bin

    from facebench.eval.verification import evaluate

    images = np.random.default_rng(5).integers(0, 256, size=(2 * 60, SIZE, SIZE, 3), dtype=np.uint8)
    # every other pair: the same image with a little noise (a sure "same"; identical bytes would be a self-pair,
    # which .bin readers refuse)
    noise = np.random.default_rng(6).integers(-3, 4, size=images[0::4].shape)
    images[1::4] = np.clip(images[0::4].astype(int) + noise, 0, 255).astype(np.uint8)
    same = [i % 2 == 0 for i in range(60)]
    png_bin(tmp_path / "t.bin", images, same)
    onnx.save(model(normalise=normalise), str(tmp_path / "m.onnx"))
    assert main(["eval", "model", str(tmp_path / "m.onnx"), "--on", str(tmp_path / "t.bin"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    conv = res["convention"]
    assert (conv["input_mean"], conv["input_std"]) == ((0.0, 1.0) if normalise else (127.5, 127.5))
    # oracle: flipped image's embedding added, L2-normalised, Euclidean distance, 10 contiguous folds
    emb = oracle(images) + oracle(images[:, :, ::-1])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    dist = np.linalg.norm(emb[0::2] - emb[1::2], axis=1)
    want = evaluate(dist, np.array(same), np.repeat(np.arange(10), 6), greater_is_same=False)
    assert res["rows"][0]["accuracy_mean"] == pytest.approx(want.accuracy_mean, abs=1e-12)
    assert res["rows"][0]["auc"] == pytest.approx(want.auc, abs=1e-12)


def _external(tmp_path, location: str, length: int) -> None:
    m = model()
    w = next(t for t in m.graph.initializer if t.name == "G")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
        w.external_data.add(key=k, value=v)
    (tmp_path / "m.onnx").write_bytes(m.SerializeToString())


def _bad_rank(tmp_path):
    m = model(inputs=[helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3 * SIZE * SIZE])])
    (tmp_path / "m.onnx").write_bytes(m.SerializeToString())


def _big_reference(tmp_path):
    with open(tmp_path / "weights.bin", "wb") as f:  # sparse: 2 GB claimed, nothing written
        f.truncate(2 * 1024**3)
    _external(tmp_path, "weights.bin", 2 * 1024**3)


HOSTILE = {
    "not onnx": (lambda p: (p / "m.onnx").write_bytes(b"\x89PNG\r\n\x1a\n not a model"), "not an ONNX model"),
    "text": (lambda p: (p / "m.onnx").write_text("hello"), "not an ONNX model"),
    "truncated": (lambda p: (p / "m.onnx").write_bytes(model().SerializeToString()[:300]), "not an ONNX model"),
    "outside folder": (lambda p: _external(p, "../secret.bin", 16), "outside the model's folder"),
    "absolute": (lambda p: _external(p, "/etc/passwd", 16), "outside the model's folder"),
    "2 GB reference": (_big_reference, "over the 1,024 MiB limit"),
    "missing data": (lambda p: _external(p, "nothere.bin", 16), "does not exist"),
    "wrong rank": (_bad_rank, "has rank 2"),
    "two outputs": (
        lambda p: onnx.save(model(extra_outputs=("logits",)), str(p / "m.onnx")),
        "2 outputs (embedding, logits); name the embedding with --output",
    ),
    "nan outputs": (lambda p: onnx.save(model(poison=True), str(p / "m.onnx")), "non-finite embedding"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_malformed_or_hostile_models_get_one_line(tmp_path, capsys, case):
    make, message = HOSTILE[case]
    (tmp_path / "d").mkdir()
    make(tmp_path / "d")
    images = np.random.default_rng(0).integers(0, 256, size=(40, SIZE, SIZE, 3), dtype=np.uint8)
    from test_deploy import png_bin

    png_bin(tmp_path / "t.bin", images, [bool(i % 2) for i in range(20)])
    assert main(["eval", "model", str(tmp_path / "d" / "m.onnx"), "--on", str(tmp_path / "t.bin")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_output_flag_picks_one_of_several(tmp_path, capsys):
    onnx.save(model(extra_outputs=("logits",)), str(tmp_path / "m.onnx"))
    images = np.random.default_rng(0).integers(0, 256, size=(40, SIZE, SIZE, 3), dtype=np.uint8)
    from test_deploy import png_bin

    png_bin(tmp_path / "t.bin", images, [bool(i % 2) for i in range(20)])
    assert main(["eval", "model", str(tmp_path / "m.onnx"), "--on", str(tmp_path / "t.bin"), "--output", "logits"]) == 0
    assert (
        main(
            [
                "eval",
                "model",
                str(tmp_path / "m.onnx"),
                "--on",
                str(tmp_path / "t.bin"),
                "--output",
                "embedding",
                "--convention",
                "facebench",
            ]
        )
        == 2
    )
    assert "has no facebench metadata" in capsys.readouterr().err
