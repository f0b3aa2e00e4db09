"""``facebench export RUN_DIR --format onnx --out FILE``: the model a trial chose on validation, as ONNX.

The graph holds what the trial's own evaluation computes after the input normalisation: the encoder (a VAE's
mean), the ``eval.flip`` fusion and the fitted ``eval.whiten`` whitening (float32 constants); the file's
``metadata_props`` record the rest of the protocol (``convention.py``). The batch dimension is dynamic.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .convention import FORMAT, INSIGHTFACE_MEAN, INSIGHTFACE_STD, PREFIX, Convention

FORMATS = ("onnx",)
EXPORTABLE = ("completed", "stopped")  # a trial that reached its test: its chosen weights were judged
OPSET = 18


def trial_convention(cfg: Any) -> Convention:
    """The trial's protocol, split between graph and evaluator; the same numbers facebench's to_input uses."""
    from ..data.transforms import MEAN, STD

    mean, std = 255.0 * MEAN, 255.0 * STD  # (x / 255 - MEAN) / STD == (x - 255 MEAN) / (255 STD)
    assert (mean, std) == (INSIGHTFACE_MEAN, INSIGHTFACE_STD)  # an exported model reads as InsightFace reads one
    d, e = cfg.data, cfg.eval
    return Convention(
        input_size=d.image_size,
        crop=d.crop,
        color=d.color,
        input_mean=mean,
        input_std=std,
        evaluator_flip="none",
        l2_normalize=e.normalize,
        metric=e.metric,
        flip_in_graph=e.flip,
        whiten=int(e.whiten),
        source="facebench",
    )


def check_out(out: Path) -> None:
    """``--out`` ends in .onnx, its folder exists, and an existing file there is one facebench wrote."""
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"{out}: --out must end in .onnx")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent}: folder not found; create it first")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; --out names the .onnx file to write")
    if out.exists() and not _written_by_facebench(out):
        raise ConfigError(
            f"{out}: exists and was not written by facebench export (no '{PREFIX}format' metadata); "
            "choose another --out (facebench does not overwrite it)"
        )


def _written_by_facebench(path: Path) -> bool:
    from .onnxfile import read_model

    try:
        return read_model(path).metadata.get(PREFIX + "format") == FORMAT
    except (DataError, ConfigError):
        return False


def check_exportable(run_dir: Path) -> None:
    """One clear line for a trial with nothing to export: not a trial, unfinished, failed, or no weights."""
    import json

    from ..artefacts import CHECKPOINT, RESULT

    if not (run_dir / RESULT).is_file():
        raise DataError(
            f"{run_dir}: no {RESULT}; not a trial directory, or the trial has not finished (export "
            "takes the model a finished trial chose on validation)"
        )
    try:
        status = json.loads((run_dir / RESULT).read_text(encoding="utf-8")).get("status")
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise DataError(f"{run_dir / RESULT}: not a JSON object; the trial's result is unreadable") from None
    if status not in EXPORTABLE:
        raise DataError(
            f"{run_dir}: status {status!r}; only a {' or '.join(EXPORTABLE)} trial has a model chosen "
            "on validation to export"
        )
    if not (run_dir / CHECKPOINT).is_file():
        raise DataError(
            f"{run_dir / CHECKPOINT}: not found; the trial ran with train.checkpoint=false, so its "
            "weights were not kept"
        )


def embedder(trained: Any) -> Any:
    """The graph's module: encode, the trial's flip fusion, its whitening (all float32, on the CPU)."""
    import torch

    class Embedder(torch.nn.Module):
        def __init__(self, model: torch.nn.Module, flip: str, whitening: Any) -> None:
            super().__init__()
            self.model, self.flip = model, flip
            self.whiten = whitening is not None
            if self.whiten:
                self.register_buffer("mean", torch.tensor(whitening.mean, dtype=torch.float32))
                self.register_buffer("projection", torch.tensor(whitening.projection, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            emb = self.model.encode(x)
            if self.flip != "none":
                mirrored = self.model.encode(torch.flip(x, dims=[3]))
                emb = emb + mirrored if self.flip == "sum" else torch.cat([emb, mirrored], dim=1)
            return (emb - self.mean) @ self.projection if self.whiten else emb

    return Embedder(trained.model.float().cpu(), trained.cfg.eval.flip, trained.whitening).eval()


def export_trial(run_dir: str | Path, out: str | Path, *, fmt: str = "onnx") -> dict[str, Any]:
    """Write the trial's ONNX model to ``out``; returns what was written (path, seconds, embedding size)."""
    import onnx
    import torch

    from .. import __version__
    from ..engine.use import load_trained
    from ..io import atomic_path
    from .onnxfile import require_deploy

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    require_deploy()
    run, out = Path(run_dir), Path(out)
    check_out(out)
    check_exportable(run)
    start = time.perf_counter()
    trained = load_trained(run)
    conv = trial_convention(trained.cfg)
    module = embedder(trained)
    x = torch.zeros(2, conv.channels, conv.input_size, conv.input_size)
    with torch.no_grad():
        dim = int(module(x).shape[1])
    proto = _to_onnx(module, x, run)
    meta = conv.to_metadata(
        version=__version__,
        trial=run.resolve().name,
        embedding_size=str(dim),
        input_name="input",
        output_name="embedding",
    )
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name, proto.producer_version = "facebench", __version__
    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp))
    return {
        "out": str(out),
        "seconds": time.perf_counter() - start,
        "embedding_size": dim,
        "convention": conv.describe(),
    }


def _to_onnx(module: Any, x: Any, run: Path) -> Any:
    import torch

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), torch.no_grad():
            program = torch.onnx.export(
                module,
                (x,),
                dynamo=True,
                opset_version=OPSET,
                input_names=["input"],
                output_names=["embedding"],
                dynamic_shapes={"x": {0: "batch"}},
            )
    except Exception as e:  # noqa: BLE001 - the exporter raises many types; each is "this model did not export"
        raise DataError(f"{run}: torch.onnx.export failed: {' '.join(str(e).split())[:200]}") from None
    return program.model_proto
