"""One driver per sweep: ``driver_lock`` is held by ``run_sweep`` and ``facebench confirm`` for as long as they
write a sweep, so a second driver on the same sweep folder, or on the same study in a shared PostgreSQL database,
is refused at once (exit 2) with a line naming the holder.

- The folder lock is the file ``<sweep>/.facebench.lock`` (``ownership.LOCK``), created with ``O_CREAT | O_EXCL``
  (atomic on local disks and on NFSv3+): the holder's host, pid, start time and a heartbeat rewritten every
  ``HEARTBEAT_S`` seconds. A holder is *dead*, and its lock taken over with a one-line notice, when it ran on this
  host and its pid is not alive (a SIGKILLed driver), or ran on another host and its heartbeat is older than
  ``STALE_S`` (a crashed or partitioned head; a live one rewrites it 12 times in that span).
- A ``postgresql://`` study is also locked in its database: ``pg_try_advisory_lock`` on a key made from the study
  name, held on a connection of its own whose ``application_name`` names the holder. PostgreSQL releases it when
  that connection dies, so a crashed holder never blocks the next driver. SQLite studies live in the sweep folder,
  which the folder lock already covers.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError
from ..ownership import LOCK, MARKER, is_owned

HEARTBEAT_S = 10.0
STALE_S = 120.0  # a lock from another host whose heartbeat is older than this is a dead driver's


def holder_text(info: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started_at", 0)))
    return f"host {info.get('host', '?')}, pid {info.get('pid', '?')}, started {started}"


def _read(path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # torn (a holder killed mid-write): judged by the file's age
    return info if isinstance(info, dict) else {}


def is_dead(info: dict, *, mtime: float, now: float | None = None) -> bool:
    """The stated rule: same host and pid not alive, or the heartbeat (else the file's age) older than STALE_S."""
    now = time.time() if now is None else now
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False
    beat = info.get("heartbeat_at")
    return now - (beat if isinstance(beat, (int, float)) else mtime) > STALE_S


class FolderLock:
    def __init__(self, sweep_dir: Path, what: str) -> None:
        self.path, self.what = Path(sweep_dir) / LOCK, what
        self.info = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": time.time(),
            "token": os.urandom(8).hex(),
            "what": what,
        }
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> None:
        for _ in range(3):
            if self._create():
                self._beat = threading.Thread(target=self._heartbeat, name="facebench-lock", daemon=True)
                self._beat.start()
                return
            info = _read(self.path)
            if info is None:
                continue  # released meanwhile
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                continue
            if not is_dead(info, mtime=mtime):
                raise ConfigError(
                    f"{self.path.parent}: another facebench driver is running this sweep "
                    f"({holder_text(info)}); wait for it to finish or stop it (a killed driver's lock "
                    f"is taken over: same host, pid gone; other host, no heartbeat for {STALE_S:g} s)"
                )
            self._take_over(info)
        raise ConfigError(f"{self.path}: could not take the sweep's driver lock (other drivers keep taking it)")

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**self.info, "heartbeat_at": time.time()}, f)
        return True

    def _take_over(self, info: dict) -> None:
        # Rename first: of two drivers taking over the same dead lock, only one rename succeeds.
        aside = self.path.with_name(f"{LOCK}.{os.getpid()}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        aside.unlink(missing_ok=True)
        print(
            f"facebench sweep: taking over the driver lock of {self.path.parent} from a driver that is gone "
            f"({holder_text(info)})"
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if (_read(self.path) or {}).get("token") != self.info["token"]:
                return  # taken over (this driver was judged dead): never write over the new holder's lock
            tmp = self.path.with_name(f".{LOCK}.{self.info['token']}.tmp")
            tmp.write_text(json.dumps({**self.info, "heartbeat_at": time.time()}), encoding="utf-8")
            os.replace(tmp, self.path)

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if (_read(self.path) or {}).get("token") == self.info["token"]:
            self.path.unlink(missing_ok=True)
        folder = self.path.parent
        if folder.is_dir() and [p.name for p in folder.iterdir()] == [MARKER]:
            (folder / MARKER).unlink()  # the lock made this folder and nothing else came of it
            folder.rmdir()


def study_lock_key(study_name: str) -> int:
    """A signed 64-bit advisory lock key for a study name (any collision only makes two sweeps wait for each other)."""
    return int.from_bytes(hashlib.sha256(f"facebench-driver:{study_name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def study_lock(url: str, study_name: str, shown: str) -> Iterator[None]:
    """``pg_try_advisory_lock`` on the study's key, for a PostgreSQL study; nothing for any other database."""
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    from .preflight import engine_kwargs

    me = f"facebench {socket.gethostname()[:30]} pid {os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}"
    kwargs = engine_kwargs(url)
    kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "application_name": me[:63]}
    engine = sqlalchemy.create_engine(url, poolclass=NullPool, **kwargs)
    key = study_lock_key(study_name)
    try:
        with engine.connect() as conn:
            if not conn.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                holder = conn.execute(
                    sqlalchemy.text(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :lo AND l.classid = :hi"
                    ),
                    {"lo": key & 0xFFFFFFFF, "hi": (key >> 32) & 0xFFFFFFFF},
                ).scalar()
                raise ConfigError(
                    f"study {study_name!r} in {shown}: another facebench driver is running it "
                    f"({holder or 'holder unknown'}); wait for it to finish or stop it"
                )
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


@contextmanager
def driver_lock(
    sweep_dir: Path, *, study_url: str = "", study_name: str = "", shown: str = "", what: str = "sweep"
) -> Iterator[None]:
    """The sweep's folder lock (and its study's, for PostgreSQL) for the ``with`` block. A folder that exists
    without facebench's marker is left to the caller's ownership check (which refuses it, untouched)."""
    sweep_dir = Path(sweep_dir)
    folder = None
    if not sweep_dir.exists() or is_owned(sweep_dir):
        from ..ownership import claim_dir

        claim_dir(sweep_dir, "sweep")
        folder = FolderLock(sweep_dir, what)
        folder.acquire()
    try:
        with study_lock(study_url, study_name, shown or study_url):
            yield
    finally:
        if folder is not None:
            folder.release()
