"""Checks a sweep makes before it creates anything: the results bucket, the study database, the Ray address.

Each refuses an unusable target with one line within about 10 s (a ``FacebenchError``: the CLI prints it and
exits 2), so a typo or a server that is down leaves no empty run folder and no half-created study behind,
and the same command works once the target is fixed.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..storage import check_reachable

DB_CONNECT_S = 5  # libpq / MySQL connect timeout for the probe and for the study's own engine
RAY_CONNECT_S = 5.0
# The variable a study-database password may come from besides the driver's own (PGPASSWORD for libpq).
PASSWORD_ENV = "FACEBENCH_STUDY_DB_PASSWORD"


def check_all(paths: Any, *, address: str | None) -> None:
    """Run every check for this sweep, cheapest first."""
    if address:
        check_ray_address(address)
    if paths.is_uri:
        check_reachable(paths.storage_path)
    check_study_db(study_url(paths.study_url))


def study_url(url: str) -> str:
    """Refuse a password written into the URL (it would sit in shell history, process lists, job logs and
    Tune's pickled searcher state). PostgreSQL's libpq reads PGPASSWORD (or ~/.pgpass) itself;
    $FACEBENCH_STUDY_DB_PASSWORD is handed to it the same way, through this driver's environment only."""
    if url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"--study-db {url!r}: not a database URL (e.g. postgresql://user@host:5432/db)") from None
    if parsed.password:
        raise ConfigError(
            f"--study-db: the URL carries a password; remove it and set {PASSWORD_ENV} "
            "(or PGPASSWORD) in the environment instead"
        )
    if os.environ.get(PASSWORD_ENV):
        if parsed.get_backend_name() != "postgresql":
            raise ConfigError(
                f"{PASSWORD_ENV} is for a postgresql:// study database; for "
                f"{parsed.get_backend_name()} use its driver's own password setting"
            )
        os.environ["PGPASSWORD"] = os.environ[PASSWORD_ENV]
    return url


def engine_kwargs(url: str) -> dict:
    """SQLAlchemy engine options for the study: a bounded connect time, so a database that goes away
    fails the call instead of hanging the driver."""
    if url.startswith(("postgresql", "mysql")):
        return {"connect_args": {"connect_timeout": DB_CONNECT_S}}
    return {}


# Any fixed key: every facebench driver takes the same PostgreSQL advisory lock around creating the schema.
SCHEMA_LOCK = 0x66616365


def study_storage(url: str):
    """Optuna's RDBStorage for ``url``. Two drivers starting at once against a new PostgreSQL database would
    both create Optuna's tables and types, and one fails (duplicate type): the creation is serialized by an
    advisory lock held on a separate connection while RDBStorage creates (or finds) the schema."""
    import optuna

    if not url.startswith("postgresql"):
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url))
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool, **engine_kwargs(url))
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK})
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url))
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK})
    finally:
        engine.dispose()


def check_study_db(url: str) -> None:
    """Connect once (SELECT 1) without creating any table: the study itself is created only after this."""
    if url.startswith("sqlite"):
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    shown = redact(url)
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, **engine_kwargs(url))
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"--study-db {shown}: the database driver {e.name!r} is not installed; pip install 'facebench[cluster]'"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise DataError(f"--study-db {shown}: cannot connect: {_db_reason(e)}") from None


def _db_reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(orig).__name__


def check_ray_address(address: str, *, current_cluster: str | None = None) -> None:
    """A Ray address that does not answer makes ``ray.init`` retry for a minute or more: try a plain TCP
    connection to the GCS port first. ``auto`` means the cluster this node last started, whose address
    ``ray start --head`` recorded (a stale record of a cluster that is gone is the usual case to catch)."""
    if address == "auto":
        from .cli import RAY_CURRENT_CLUSTER

        try:
            recorded = Path(current_cluster or RAY_CURRENT_CLUSTER).read_text().strip()
        except OSError:
            return  # nothing recorded: ray.init("auto") itself fails at once
        if recorded:
            _probe(
                recorded,
                f"--address auto (the cluster recorded in {current_cluster or RAY_CURRENT_CLUSTER}: {recorded})",
            )
        return
    _probe(address, f"--address {address}")


def _probe(address: str, shown: str) -> None:
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{shown}: expected HOST:PORT (e.g. 10.0.0.10:6379), 'auto' or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_S):
            pass
    except OSError as e:
        raise ConfigError(
            f"{shown}: no Ray cluster answers there ({e.strerror or e}); start one with "
            "`ray start --head` or `ray up cluster/cluster.yaml`, or run on this machine with --local"
        ) from None


def redact(url: str) -> str:
    """Never show or write a database password (sweep.json, messages)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
