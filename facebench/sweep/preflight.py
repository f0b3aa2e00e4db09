"""Checks a sweep makes before it creates anything: the results bucket, the study database, the Ray address.

Each refuses an unusable target with one line within about 10 s (a ``FacebenchError``: the CLI prints it and
exits 2), so a typo or a server that is down leaves no empty run folder and no half-created study behind,
and the same command works once the target is fixed.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ..errors import ConfigError, DataError
from ..storage import check_reachable

DB_CONNECT_S = 5          # libpq / MySQL connect timeout for the probe and for the study's own engine
RAY_CONNECT_S = 5.0
# The variable a study-database password may come from besides the driver's own (PGPASSWORD for libpq).
PASSWORD_ENV = "FACEBENCH_STUDY_DB_PASSWORD"


def check_all(paths: Any, *, address: str | None) -> str:
    """Run every check for this sweep; return the study URL to use (password filled in from the environment)."""
    if paths.is_uri:
        check_reachable(paths.storage_path)
    url = study_url(paths.study_url)
    check_study_db(url)
    if address:
        check_ray_address(address)
    return url


def study_url(url: str) -> str:
    """Refuse a password written into the URL (it would sit in shell history, process lists and job logs);
    take it from $FACEBENCH_STUDY_DB_PASSWORD instead, or leave it to the driver (PGPASSWORD, ~/.pgpass)."""
    if url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"--study-db {url!r}: not a database URL (e.g. postgresql://user@host:5432/db)") from None
    if parsed.password:
        raise ConfigError(f"--study-db: the URL carries a password; remove it and set {PASSWORD_ENV} "
                          "(or PGPASSWORD for PostgreSQL) in the environment instead")
    if os.environ.get(PASSWORD_ENV):
        parsed = parsed.set(password=os.environ[PASSWORD_ENV])
    return parsed.render_as_string(hide_password=False)


def engine_kwargs(url: str) -> dict:
    """SQLAlchemy engine options for the study: a bounded connect time, so a database that goes away
    fails the call instead of hanging the driver."""
    if url.startswith(("postgresql", "mysql")):
        return {"connect_args": {"connect_timeout": DB_CONNECT_S}}
    return {}


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
        raise ConfigError(f"--study-db {shown}: the database driver {e.name!r} is not installed; "
                          "pip install 'facebench[cluster]'") from None
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise DataError(f"--study-db {shown}: cannot connect: {_db_reason(e)}") from None


def _db_reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(orig).__name__


def check_ray_address(address: str) -> None:
    """A Ray address that does not answer makes ``ray.init`` retry for a minute or more: try a plain TCP
    connection to the GCS port first. ``auto`` is left to Ray (it reads the address this node recorded)."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected HOST:PORT (e.g. 10.0.0.10:6379), 'auto' or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_S):
            pass
    except OSError as e:
        raise ConfigError(f"--address {address}: no Ray cluster answers there ({e.strerror or e}); start one with "
                          "`ray start --head` or `ray up cluster/cluster.yaml`, or run on this machine with --local")\
            from None


def redact(url: str) -> str:
    """Never show or write a database password (sweep.json, messages)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
