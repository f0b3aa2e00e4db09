"""Where sweeps and reports live: a local path or any URI pyarrow has a filesystem for (``s3://``, ``gs://``).

One module for every layer that touches shared storage: the sweep mirrors trial directories into a bucket
(``Mirror``), the report reads them back (``resolve``), and both refuse an unusable location before writing
anything (``check_reachable``). Imports no Ray and no engine, so the report may use it. Local writes go through
``facebench.io`` so they are atomic; an object store's put is atomic by itself.

S3-compatible servers (MinIO, Ceph, moto) are reached the standard way: ``AWS_ENDPOINT_URL`` and the usual
credential variables or files, which pyarrow's S3 filesystem reads like every other AWS client.
"""

from __future__ import annotations

import os
import posixpath
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from facebench.artefacts import RESULT
from facebench.errors import DataError
from facebench.io import atomic_write_bytes

# A probe that must answer within about 10 s even when the endpoint is down: one attempt, short timeouts.
PROBE_CONNECT_S = 3.0
PROBE_REQUEST_S = 5.0


@dataclass(frozen=True)
class Location:
    """A filesystem and a path inside it; ``uri`` is what the user typed, for messages."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> Location:
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

    def files(self) -> dict[str, int]:
        """Relative path -> size of every file below this location (empty when there is none)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True, allow_not_found=True))
        base = self.path.rstrip("/") + "/"
        return {i.path[len(base) :]: i.size for i in infos if i.type == pafs.FileType.File}

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


def is_uri(where: str | os.PathLike) -> bool:
    return "://" in os.fspath(where)


def resolve(where: str | os.PathLike) -> Location:
    """A local path or a URI (``file:///x``, ``s3://bucket/x``) -> Location; an unknown scheme is a DataError."""
    text = os.fspath(where)
    if not is_uri(text):
        return Location(pafs.LocalFileSystem(), os.path.abspath(text), text)
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{text}: cannot open this location through pyarrow.fs ({_first_line(e)})") from None
    return Location(fs, path, text)


def check_reachable(uri: str) -> None:
    """Refuse a bucket URI that cannot be used (endpoint down, no such bucket, credentials refused) with one
    line, within about 10 s, before the caller creates anything. Local paths and other schemes pass."""
    if not uri.startswith("s3://"):
        return
    bucket = uri[len("s3://") :].split("/", 1)[0]
    if not bucket:
        raise DataError(f"{uri}: no bucket named (expected s3://BUCKET/PREFIX)")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    where = f" at {endpoint}" if endpoint else ""
    try:
        fs = pafs.S3FileSystem(
            endpoint_override=endpoint,
            connect_timeout=PROBE_CONNECT_S,
            request_timeout=PROBE_REQUEST_S,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        )
        kind = fs.get_file_info(bucket).type
    except (OSError, ValueError) as e:
        raise DataError(f"{uri}: cannot use this bucket{where}: {_s3_reason(e)}") from None
    if kind == pafs.FileType.NotFound and endpoint and not endpoint_answers(endpoint):
        # Some SDK paths turn a refused connection into "not found": never tell the user to create a bucket on a
        # server that is not there.
        raise DataError(f"{uri}: cannot use this bucket{where}: {UNREACHABLE}")
    if kind == pafs.FileType.NotFound:
        raise DataError(
            f"{uri}: bucket '{bucket}' does not exist{where}; create it first (e.g. `aws s3 mb s3://{bucket}`)"
        )


UNREACHABLE = "the endpoint does not answer (check AWS_ENDPOINT_URL and the network)"
_UNREACHABLE_WORDS = (
    "NETWORK_CONNECTION",
    "Could not connect",
    "Couldn't connect",
    "Connection refused",
    "Failed to connect",
    "curlCode: 7",
    "Timeout",
    "timed out",
    "Could not resolve",
)


def endpoint_answers(endpoint: str) -> bool:
    """Whether something accepts a TCP connection at ``endpoint`` (``http://host:port``, ``host:port``) within
    ``PROBE_CONNECT_S``; an endpoint that cannot be parsed counts as answering (the S3 call then says why)."""
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        return True
    if not url.hostname:
        return True
    try:
        with socket.create_connection((url.hostname, port), timeout=PROBE_CONNECT_S):
            return True
    except OSError:
        return False


def _s3_reason(e: BaseException) -> str:
    text = str(e)
    if any(w in text for w in _UNREACHABLE_WORDS):
        return UNREACHABLE
    if any(k in text for k in ("ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "401")):
        return "the credentials were refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
    return _first_line(e)


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(e).__name__


@dataclass
class Mirror:
    """A local folder and its copy on shared storage. ``push`` uploads the files changed since the last
    push or pull (by size and mtime); ``pull`` fetches what the local side lacks. Used by a trial (its own
    folder) and by the sweep driver (sweep.json, summary.json, the trial folders), never both on one file
    at once: a trial pushes while it runs, the driver pulls and pushes after the trials have ended."""

    local: Path
    remote: Location
    # Uploaded after everything else: a record that says "finished" must never reach the bucket before the
    # files it vouches for (an upload cut short leaves the folder looking unfinished, never finished and torn).
    last: tuple[str, ...] = (RESULT,)
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def push(self, *, only: tuple[str, ...] = ()) -> int:
        """Upload new or changed files (``only``: just these relative paths); return how many."""
        n = 0
        for rel, path in self._local_files(only):
            try:  # a background upload (sweep/uploads.py) runs while the trial replaces its files atomically
                st = path.stat()
                stamp = (st.st_size, st.st_mtime_ns)
                data = None if self._seen.get(rel) == stamp else path.read_bytes()
            except FileNotFoundError:
                continue  # removed since the listing: nothing to upload
            if data is None:
                continue
            self.remote.join(rel).write_bytes(data)
            self._seen[rel] = stamp
            n += 1
        return n

    def pull(self, *, overwrite: bool = False, download: bool = True) -> int:
        """Download remote files missing locally (or all, with ``overwrite``); return how many. A local file
        of the remote's size counts as the same file, so the next ``push`` does not upload it again.
        ``download=False`` only does that marking: a file removed here on purpose (a checkpoint the retention
        dropped) is not brought back."""
        n = 0
        for rel, size in self.remote.files().items():
            if _is_temp(rel):
                continue
            dest = self.local / rel
            if dest.exists() and not overwrite:
                st = dest.stat()
                if st.st_size == size:
                    self._seen[rel] = (st.st_size, st.st_mtime_ns)
                continue
            if not download:
                continue
            atomic_write_bytes(dest, self.remote.join(rel).read_bytes())
            st = dest.stat()
            self._seen[rel] = (st.st_size, st.st_mtime_ns)
            n += 1
        return n

    def _local_files(self, only: tuple[str, ...]):
        if only:
            return [(rel, self.local / rel) for rel in only if (self.local / rel).is_file()]
        if not self.local.is_dir():
            return []
        files = (p for p in sorted(self.local.rglob("*")) if p.is_file())
        out = [(p.relative_to(self.local).as_posix(), p) for p in files if not _is_temp(p.name)]
        return sorted(out, key=lambda item: item[0] in self.last)


def _is_temp(name: str) -> bool:
    # facebench.io's atomic writes stage ".<name>.*.tmp" beside the target: never ship a half-written file.
    base = posixpath.basename(name)
    return base.startswith(".") and base.endswith(".tmp")
