"""Where run directories and reports live: a local path or any URI pyarrow has a filesystem for.

Sweeps on a cluster write to shared storage (``s3://``, ``gs://``, NFS); the report reads and writes through
``pyarrow.fs`` so the same code serves a laptop and a bucket. Local writes go through ``facebench.io`` so they
are atomic; an object store's put is atomic by itself.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from facebench.errors import DataError
from facebench.io import atomic_write_bytes


@dataclass(frozen=True)
class Location:
    """A filesystem and a path inside it; ``uri`` is what the user typed, for messages."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> "Location":
        path = posixpath.join(self.path, *parts)
        uri = self.uri.rstrip("/") + "/" + "/".join(parts)
        return Location(self.fs, path, uri)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    def info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def is_dir(self) -> bool:
        return self.info().type == pafs.FileType.Directory

    def children(self) -> dict[str, pafs.FileType]:
        """Entry name -> type for the direct children; empty if this is not a directory."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except (NotADirectoryError, FileNotFoundError, OSError):
            return {}
        return {i.base_name: i.type for i in infos}

    def read_bytes(self) -> bytes:
        with self.fs.open_input_file(self.path) as f:
            return f.read()

    def read_text(self) -> str:
        return self.read_bytes().decode("utf-8")

    def write_bytes(self, data: bytes) -> None:
        if self.is_local:
            atomic_write_bytes(self.path, data)
            return
        self.fs.create_dir(posixpath.dirname(self.path), recursive=True)
        with self.fs.open_output_stream(self.path) as f:
            f.write(data)

    def local_path(self) -> Path | None:
        return Path(self.path) if self.is_local else None


def resolve(where: str | os.PathLike) -> Location:
    """A local path or a URI (``file:///x``, ``s3://bucket/x``) -> Location; an unknown scheme is a DataError."""
    text = os.fspath(where)
    if "://" not in text:
        return Location(pafs.LocalFileSystem(), os.path.abspath(text), text)
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{text}: cannot open this location through pyarrow.fs ({e})") from None
    return Location(fs, path, text)
