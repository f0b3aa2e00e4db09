"""An ONNX file read without trusting it: size, protobuf, external data, inputs and outputs checked first.

ONNX is protobuf, so parsing runs no code; what can hurt is size (a file or an external-data reference of
gigabytes) and paths (an external-data ``location`` outside the model's folder, e.g. ``../../etc/passwd`` or an
absolute path). Both are refused before onnxruntime opens anything. onnxruntime runs only its registered
operators; no custom-op library is ever loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

MAX_MODEL_BYTES = 2 * 1024**3 - 1  # protobuf's own limit for one message
MAX_EXTERNAL_BYTES = 1024**3  # all external-data references together


@dataclass
class OnnxModel:
    path: Path
    proto: Any  # onnx.ModelProto (weights inline, or external data checked to lie beside it)
    metadata: dict[str, str]
    input_name: str
    input_shape: list  # ints, or strings / None for symbolic dimensions
    output_name: str
    external: bool  # some tensor keeps its data in a file beside the model


def require_deploy() -> None:
    """onnx + onnxruntime are the ``deploy`` extra; a missing one is one line, not an ImportError."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            f"ONNX support needs the deploy extra ({e.name} is missing): pip install -e '.[deploy]'"
        ) from None


def read_model(path: str | Path, *, output: str = "") -> OnnxModel:
    """The model at ``path``, checked; ``output`` names one of several outputs."""
    import onnx
    from google.protobuf.message import DecodeError

    require_deploy()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: not found (expected an .onnx model file)")
    size = p.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise DataError(f"{p}: {size:,} bytes, over protobuf's 2 GiB limit for one ONNX file")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(p.read_bytes())
    except (DecodeError, RuntimeError, ValueError) as e:
        raise DataError(f"{p}: not an ONNX model (its protobuf does not parse: {str(e)[:80]})") from None
    if not model.graph.node or not model.ir_version:
        raise DataError(f"{p}: not an ONNX model (no graph nodes or no IR version; truncated or another format)")
    external = check_external_data(model, p)
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - the checker raises several types; each is the file's fault
        raise DataError(f"{p}: not a valid ONNX model: {' '.join(str(e).split())[:160]}") from None
    inp, shape = _one_input(model, p)
    return OnnxModel(
        p, model, {m.key: m.value for m in model.metadata_props}, inp, shape, _one_output(model, p, output), external
    )


def _all_tensors(graph: Any):
    yield from graph.initializer
    for s in graph.sparse_initializer:
        yield s.values
        yield s.indices
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _all_tensors(g)


def check_external_data(model: Any, path: Path) -> bool:
    """Every external-data reference lies inside the model's folder, within its file and the size limit."""
    import onnx

    folder = path.resolve().parent
    total, any_external = 0, False
    for t in _all_tensors(model.graph):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        any_external = True
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        target = (folder / location).resolve()
        if not location or os.path.isabs(location) or not target.is_relative_to(folder):
            raise DataError(
                f"{path}: tensor {t.name!r} keeps its data at {location!r}, outside the model's folder; refused"
            )
        if not target.is_file():
            raise DataError(f"{path}: tensor {t.name!r} keeps its data in {location!r}, which does not exist")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", target.stat().st_size))
        except ValueError:
            raise DataError(f"{path}: tensor {t.name!r}: external-data offset/length are not integers") from None
        total += max(length, 0)
        if offset < 0 or length < 0 or offset + length > target.stat().st_size:
            raise DataError(
                f"{path}: tensor {t.name!r} asks for bytes {offset:,}+{length:,} of {location!r}, "
                f"which holds {target.stat().st_size:,}"
            )
        if total > MAX_EXTERNAL_BYTES:
            raise DataError(
                f"{path}: external data of {total:,} bytes or more, over the "
                f"{MAX_EXTERNAL_BYTES // 1024**2:,} MiB limit; refused"
            )
    return any_external


def _dims(value_info: Any) -> list:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def _one_input(model: Any, path: Path) -> tuple[str, list]:
    import onnx

    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise DataError(
            f"{path}: {len(inputs)} inputs ({', '.join(i.name for i in inputs)[:80]}); a face-embedding "
            "model takes one image batch"
        )
    i = inputs[0]
    shape = _dims(i)
    if len(shape) != 4:
        raise DataError(f"{path}: input {i.name!r} has rank {len(shape)} {shape}; expected 4 (N, C, H, W)")
    if i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise DataError(
            f"{path}: input {i.name!r} is {onnx.TensorProto.DataType.Name(i.type.tensor_type.elem_type)}"
            "; expected float32 pixels"
        )
    return i.name, shape


def _one_output(model: Any, path: Path, output: str) -> str:
    names = [o.name for o in model.graph.output]
    if output:
        if output not in names:
            raise ConfigError(f"{path}: no output {output!r}; its outputs are {', '.join(names)}")
        return output
    if len(names) != 1:
        raise ConfigError(f"{path}: {len(names)} outputs ({', '.join(names)[:120]}); name the embedding with --output")
    return names[0]


def session(m: OnnxModel, *, threads: int = 0) -> Any:
    """An onnxruntime CPU session; a graph it cannot run (unknown operator, bad shapes) is one line."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    try:
        source = str(m.path) if m.external else m.proto.SerializeToString()
        return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types are not public API
        raise DataError(f"{m.path}: onnxruntime cannot load it: {' '.join(str(e).split())[:200]}") from None
