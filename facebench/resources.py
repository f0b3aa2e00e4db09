"""Refuse a request the machine cannot hold before allocating it, instead of dying of MemoryError (or the
OOM killer) halfway through: ``check_memory(nbytes, what)`` compares with the memory available now."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import BinaryIO

from .errors import ConfigError, DataError


def available_memory() -> int | None:
    """Bytes this process can still get: the smaller of the kernel's MemAvailable and what the cgroup
    (container) limit leaves; None where neither can be read."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        cap = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if cap != "max":
            limits.append(int(cap) - int(used))
    except (OSError, ValueError):
        pass
    if not limits and hasattr(os, "sysconf"):
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError):
            pass
    return min(limits) if limits else None


def check_memory(nbytes: int, what: str) -> None:
    """ConfigError naming ``what`` (the option to lower) when ``nbytes`` exceed the available memory."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise ConfigError(
            f"{what}: needs {_gib(nbytes)} of memory but this machine has {_gib(available)} available; ask for less"
        )


def check_npz_headers(source: str | os.PathLike | BinaryIO, *, label: str) -> None:
    """Refuse an ``.npz`` whose array headers claim more bytes than the file stores for them (a corrupt or
    hostile header asking for terabytes), before ``np.load`` allocates: reads only the headers."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(source) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
            need = math.prod(shape) * dtype.itemsize
            if need > info.file_size:
                raise DataError(
                    f"{label}: array {info.filename[:-4]!r} claims shape {shape} ({need:,} bytes) but "
                    f"the file holds {info.file_size:,} bytes for it; the file is corrupt"
                )
    if hasattr(source, "seek"):
        source.seek(0)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"
