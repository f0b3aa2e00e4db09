"""``facebench eval model FILE.onnx``: any ONNX face-embedding model on facebench's sets and 10-fold protocol.

The sets are read as a trial reads them (``facebench.data.sets.load_set``) and scored by the same
``pair_scores`` + ``evaluate``; only the embedding step differs: onnxruntime on the convention the file records
(or InsightFace's, see ``convention.py``). ``--save DIR`` writes DIR/artefacts/verification.npz, the artefact
``eval compare`` reads, and DIR/result.json, which ``facebench report --reference-model`` reads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from .convention import FORMAT, PREFIX, Convention, from_metadata, graph_normalises, insightface
from .onnxfile import OnnxModel, read_model, session

CONVENTIONS = ("auto", "facebench", "insightface")
RESULT_KIND = "model-eval"  # the .facebench marker of a --save folder


def resolve_convention(m: OnnxModel, *, convention: str = "auto", crop: float | None = None) -> Convention:
    """facebench's metadata when the file has it (or ``convention='facebench'`` demands it), else InsightFace's."""
    if convention not in CONVENTIONS:
        raise ConfigError(f"--convention {convention!r}: one of {', '.join(CONVENTIONS)}")
    has_meta = m.metadata.get(PREFIX + "format") == FORMAT
    if convention == "facebench" and not has_meta:
        raise DataError(
            f"{m.path}: has no facebench metadata ('{PREFIX}format' = {FORMAT!r}); use --convention insightface"
        )
    _, c, h, w = m.input_shape
    if has_meta and convention != "insightface":
        conv = from_metadata(m.metadata, where=str(m.path))
    else:
        if not (isinstance(h, int) and isinstance(w, int) and h == w and h > 0):
            raise DataError(
                f"{m.path}: input {m.input_name!r} is {m.input_shape}; the InsightFace convention needs "
                "a fixed square height and width (e.g. 112 x 112)"
            )
        conv = insightface(h, graph_normalises=graph_normalises([n.name for n in m.proto.graph.node]))
    if crop is not None:
        if not 0.0 < crop <= 1.0:
            raise ConfigError(f"--crop {crop}: a fraction in (0, 1]")
        conv = Convention(**{**conv.__dict__, "crop": float(crop)})
    for dim, want, what in (
        (c, conv.channels, "channels"),
        (h, conv.input_size, "height"),
        (w, conv.input_size, "width"),
    ):
        if isinstance(dim, int) and dim > 0 and dim != want:
            raise DataError(
                f"{m.path}: input {m.input_name!r} has {dim} {what} ({m.input_shape}); its convention "
                f"({conv.source}) needs {want}"
            )
    return conv


def onnx_embed(sess: Any, m: OnnxModel, conv: Convention, images: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, D) float32 embeddings as the convention's evaluator computes them."""
    out = []
    for start in range(0, len(images), batch_size):
        x = np.ascontiguousarray(np.asarray(images[start : start + batch_size]).transpose(0, 3, 1, 2), np.float32)
        x = (x - np.float32(conv.input_mean)) / np.float32(conv.input_std)
        emb = _run(sess, m, x, start)
        if conv.evaluator_flip == "sum":
            emb = emb + _run(sess, m, np.ascontiguousarray(x[..., ::-1]), start)
        out.append(emb)
    if not out:
        raise DataError(f"{m.path}: no images to embed")
    return np.concatenate(out)


def _run(sess: Any, m: OnnxModel, x: np.ndarray, start: int) -> np.ndarray:
    try:
        y = np.asarray(sess.run([m.output_name], {m.input_name: x})[0])
    except Exception as e:  # noqa: BLE001 - onnxruntime's exception types are not public API
        raise DataError(
            f"{m.path}: onnxruntime failed on a batch of shape {x.shape}: {' '.join(str(e).split())[:200]}"
        ) from None
    if y.ndim < 2 or y.shape[0] != len(x) or y.dtype.kind not in "fiu":
        raise DataError(
            f"{m.path}: output {m.output_name!r} is {y.dtype} {y.shape} for a batch of {len(x)}; "
            "expected (N, D) embeddings"
        )
    y = y.reshape(len(x), -1).astype(np.float32)
    bad = ~np.isfinite(y).all(axis=1)
    if bad.any():
        raise DataError(f"{m.path}: non-finite embedding (NaN or inf) for image {start + int(np.argmax(bad))}")
    return y


@dataclass(frozen=True)
class Reading:
    """How ``eval model FILE.onnx`` reads the model: the convention (auto: the file's metadata, else InsightFace's
    loader's), a crop overriding it, which output is the embedding, images per onnxruntime call."""

    convention: str = "auto"
    crop: float | None = None
    output: str = ""
    batch_size: int = 256


def evaluate_onnx(path: str | Path, sets: list[str], *, folds: str = "", how: Reading = Reading()) -> dict[str, Any]:
    """One row per set (the rows ``eval model`` prints for a trial) + the per-set arrays ``--save`` keeps."""
    convention, crop, output, batch_size = how.convention, how.crop, how.output, how.batch_size
    from ..data.images import Decoding
    from ..data.sets import load_set, plan_sets
    from ..eval.verification import evaluate, pair_scores

    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} must be >= 1")
    m = read_model(path, output=output)
    conv = resolve_convention(m, convention=convention, crop=crop)
    sess = session(m)
    rows, arrays = [], []
    for name, set_path, chosen in plan_sets(",".join(sets), folds):
        vs = load_set(set_path, Decoding(conv.input_size, conv.crop, conv.color), folds=chosen, name=name)
        emb = onnx_embed(sess, m, conv, vs.images, batch_size=batch_size)
        scores, greater = pair_scores(emb, vs.pairs.a, vs.pairs.b, metric=conv.metric, normalize=conv.l2_normalize)
        result = evaluate(scores, vs.pairs.same, vs.pairs.fold, greater_is_same=greater)
        rows.append(_row(vs, result))
        arrays.append({"scores": scores, "same": vs.pairs.same, "fold": vs.pairs.fold, "result": result})
    return {
        "model": str(path),
        "sha256": _sha256(Path(path)),
        "convention": conv.__dict__,
        "describe": conv.describe(),
        "rows": rows,
        "arrays": arrays,
    }


def _row(vs: Any, result: Any) -> dict[str, Any]:
    folds = ",".join(str(f) for f in vs.info.get("folds") or [])
    return {
        "set": vs.name,
        "path": vs.path,
        "format": vs.info.get("format"),
        "pairs": vs.info.get("pairs"),
        "positives": vs.info.get("positives"),
        "folds": folds,
        **result.summary(""),
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_result(out: str | Path, res: dict[str, Any]) -> Path:
    """DIR/artefacts/verification.npz (what ``eval compare`` reads) and DIR/result.json, for one set."""
    from ..artefacts import ARTEFACTS, VERIFICATION_NPZ, write_verification_npz
    from ..io import atomic_write_json
    from ..ownership import claim_dir

    if len(res["rows"]) != 1:
        raise ConfigError(
            f"--save {out}: saves one set's pairs (what eval compare pairs); got {len(res['rows'])} --on sets"
        )
    out = claim_dir(out, RESULT_KIND)
    (out / ARTEFACTS).mkdir(exist_ok=True)
    a = res["arrays"][0]
    write_verification_npz(
        out / ARTEFACTS / VERIFICATION_NPZ,
        scores=a["scores"],
        same=a["same"],
        fold=a["fold"],
        result=a["result"],
        metric=res["convention"]["metric"],
    )
    atomic_write_json(out / "result.json", {"kind": RESULT_KIND, **{k: v for k, v in res.items() if k != "arrays"}})
    return out
