"""Atomic writes: a result or checkpoint is either the old file or the complete new one, never half."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import faults


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; results are shared files (NFS, other users), so honour the umask like open() does.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        with naming(path):
            yield tmp_path
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
            faults.at(f"write:{path.name}")  # resume tests: die with the new file complete but not in place
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """A write that fails without saying where (a full disk: ``[Errno 28]`` from ``write``) names ``path``."""
    try:
        yield
    except OSError as e:
        if e.filename or e.errno is None:
            raise
        raise OSError(e.errno, e.strerror, os.fspath(path)) from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    # What ``sanitize`` leaves (it already turned numpy values and tuples into lists and floats): Paths and sets.
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sanitize(obj: Any) -> Any:
    """Replace NaN/inf floats by None so the JSON is standard (RFC 8259) and readable anywhere."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    if hasattr(obj, "tolist"):
        return sanitize(obj.tolist())
    return obj


def dumps_json(obj: Any, **kwargs: Any) -> str:
    return json.dumps(sanitize(obj), default=_json_default, allow_nan=False, **kwargs)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj, indent=2, sort_keys=True) + "\n")


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON line and fsync; a torn last line is skipped by ``read_jsonl``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), open(path, "a", encoding="utf-8") as f:
        f.write(dumps_json(obj, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def parse_jsonl(text: str) -> tuple[list, int]:
    """The JSON values of a JSON-lines text and the count of lines that did not parse (torn by a kill)."""
    rows, torn = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            torn += 1
    return rows, torn


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return parse_jsonl(path.read_text(encoding="utf-8"))[0]


def read_json(path: str | os.PathLike) -> dict | None:
    """A JSON object file's contents, or None when it is missing, unreadable or torn (not an object)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
