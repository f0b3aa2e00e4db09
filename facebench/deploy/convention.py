"""The preprocessing and scoring convention of an ONNX face-embedding model, and where each step lives.

One convention, three paths: the trial's own torch evaluation, ``facebench export`` (which writes it into the
file's ``metadata_props``) and ``facebench eval model FILE.onnx`` (which reads it back). The split:

- **graph**: the backbone's encoder (a VAE's mean), the flip fusion of the trial's ``eval.flip`` (the image's and
  its mirror's embeddings, summed or concatenated) and the fitted ``eval.whiten`` whitening. The flip lives in the
  graph because whitening is affine: whiten(e + e_flip) is not whiten(e) + whiten(e_flip).
- **evaluator**: decode, centre crop, resize, colour mode, (x - mean) / std on float NCHW pixels in 0..255, the
  evaluator's flip (none for a facebench export: the graph already fused it), L2 normalisation, the metric.

A file without facebench's metadata is read as InsightFace's ``ArcFaceONNX`` reads one (model_zoo/arcface_onnx.py):
input size from the graph, mean 127.5 and std 127.5 unless one of its first 8 nodes is named Sub/_minus and one
Mul/_mul (the graph normalises: mean 0, std 1), RGB NCHW; scored as InsightFace's verification scores ``.bin``
sets: the flipped image's embedding added, L2-normalised, Euclidean distance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import DataError

FORMAT = "facebench-embedding/1"  # metadata "facebench.format": the key that marks a file facebench wrote
PREFIX = "facebench."
GRAPH_STEPS = "encoder (VAE: its mean); flip fusion per 'flip_in_graph'; PCA whitening per 'whiten' (0: none)"
EVALUATOR_STEPS = (
    "decode; centre crop 'crop'; resize to 'input_size'; colour 'color' in 'channel_order', NCHW "
    "float32 0..255; (x - input_mean) / input_std; add the mirrored image's embedding if "
    "'evaluator_flip' is sum; L2-normalise if 'l2_normalize'; score pairs by 'metric'"
)
INSIGHTFACE_MEAN = INSIGHTFACE_STD = 127.5  # facebench's own to_input is the same: (x / 255 - 0.5) / 0.5


@dataclass(frozen=True)
class Convention:
    input_size: int  # square input, pixels
    crop: float  # centre crop of the source image before the resize (data.crop)
    color: str  # rgb | gray
    input_mean: float  # the evaluator computes (x - input_mean) / input_std on pixels 0..255
    input_std: float
    evaluator_flip: str  # none | sum: does the evaluator add the mirrored image's embedding?
    l2_normalize: bool  # the evaluator L2-normalises embeddings before scoring
    metric: str  # euclidean | sqeuclidean | cosine
    flip_in_graph: str = "none"  # none | sum | concat: the trial's eval.flip, fused inside the graph
    whiten: int = 0  # eval.whiten components folded into the graph (0: none)
    source: str = "facebench"  # facebench (metadata) | insightface (its loader's defaults)

    @property
    def channel_order(self) -> str:
        return "RGB" if self.color == "rgb" else "L"

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1

    def to_metadata(self, **extra: str) -> dict[str, str]:
        """``metadata_props`` of an export: every field, where each step lives, and ``extra`` (version, trial)."""
        fields = {k: v for k, v in asdict(self).items() if k != "source"}
        meta = {
            "format": FORMAT,
            **{k: _text(v) for k, v in fields.items()},
            "channel_order": self.channel_order,
            "layout": "NCHW",
            "input_range": "0..255 float32",
            "graph_steps": GRAPH_STEPS,
            "evaluator_steps": EVALUATOR_STEPS,
            **extra,
        }
        return {PREFIX + k: v for k, v in meta.items()}

    def describe(self) -> str:
        return (
            f"{self.source} convention: {self.input_size}x{self.input_size} {self.channel_order}, crop "
            f"{self.crop:g}, (x - {self.input_mean:g}) / {self.input_std:g}, graph flip {self.flip_in_graph}, "
            f"evaluator flip {self.evaluator_flip}, whiten {self.whiten}, L2 {self.l2_normalize}, {self.metric}"
        )


def _text(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def from_metadata(meta: dict[str, str], *, where: str) -> Convention:
    """The convention a facebench export records; a missing or malformed value names the key."""

    def get(key: str, kind: type, choices: tuple = ()) -> object:
        text = meta.get(PREFIX + key)
        if text is None:
            raise DataError(f"{where}: facebench metadata lacks '{PREFIX}{key}'")
        try:
            value = {bool: lambda s: {"true": True, "false": False}[s], int: int, float: float, str: str}[kind](text)
        except (KeyError, ValueError):
            raise DataError(f"{where}: metadata '{PREFIX}{key}' = {text[:40]!r} is not a {kind.__name__}") from None
        if choices and value not in choices:
            raise DataError(f"{where}: metadata '{PREFIX}{key}' = {text[:40]!r} is not one of {', '.join(choices)}")
        return value

    from ..eval import FLIPS, METRICS

    c = Convention(
        input_size=get("input_size", int),
        crop=get("crop", float),
        color=get("color", str, ("rgb", "gray")),
        input_mean=get("input_mean", float),
        input_std=get("input_std", float),
        evaluator_flip=get("evaluator_flip", str, ("none", "sum")),
        l2_normalize=get("l2_normalize", bool),
        metric=get("metric", str, tuple(METRICS)),
        flip_in_graph=get("flip_in_graph", str, tuple(FLIPS)),
        whiten=get("whiten", int),
        source="facebench",
    )
    if not (0 < c.input_size <= 4096 and 0 < c.crop <= 1 and c.input_std > 0):
        raise DataError(
            f"{where}: metadata input_size {c.input_size}, crop {c.crop} or input_std {c.input_std} out of range"
        )
    return c


def insightface(input_size: int, *, graph_normalises: bool, crop: float = 1.0) -> Convention:
    """How InsightFace's ArcFaceONNX and its ``.bin`` verification read a model without facebench metadata."""
    mean, std = (0.0, 1.0) if graph_normalises else (INSIGHTFACE_MEAN, INSIGHTFACE_STD)
    return Convention(
        input_size=input_size,
        crop=crop,
        color="rgb",
        input_mean=mean,
        input_std=std,
        evaluator_flip="sum",
        l2_normalize=True,
        metric="euclidean",
        source="insightface",
    )


def graph_normalises(node_names: list[str]) -> bool:
    """InsightFace's test: one of the first 8 nodes named Sub*/_minus* and one Mul*/_mul* (an mxnet export)."""
    first = node_names[:8]
    return any(n.startswith(("Sub", "_minus")) for n in first) and any(n.startswith(("Mul", "_mul")) for n in first)
