"""The sweep driver's study: read once from its database, then held in memory, every write passed through.

Optuna wraps an ``RDBStorage`` in ``_CachedStorage``, which caches finished trials but reads every unfinished
trial back from the database on each ``get_all_trials``: TPE asks for the trials once per suggested parameter, so
with 32 trials running each proposal ran ~10 queries rebuilding 32 trials with their intermediate values (380 ms
median on SQLite at 300 trials, 2 CPU cores; docs/scale.md). A sweep has exactly one driver (the one-driver lock),
and it is the only process writing its study, so after the first read the cache is kept current by the writes
themselves: each write goes to the database first (what is durable is unchanged), then to the cached trial; a
state change re-reads that one trial. ``StudySearch`` opens its study through this; ``resume.reconcile`` reads
the database directly, before the searcher exists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from optuna.distributions import check_distribution_compatibility
from optuna.storages import RDBStorage
from optuna.storages._cached_storage import _CachedStorage

NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse")


def wal_commits(storage: RDBStorage) -> bool:
    """A SQLite study on a local disk commits in WAL mode with ``synchronous=NORMAL``: no fsync per commit (a
    proposal is ~12 commits; under load each fsync took 20-40 ms). A SIGKILLed driver loses nothing (the OS holds
    the WAL); a power cut may lose the last commits, which resume.reconcile settles from the trial folders. Not on
    a network filesystem, where SQLite's WAL (shared memory) is unsafe; not for PostgreSQL."""
    import sqlalchemy

    engine = storage.engine
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or filesystem_type(path).startswith(NETWORK_FILESYSTEMS):
        return False

    @sqlalchemy.event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")

    engine.dispose()  # connections opened before the listener get the pragmas when reopened
    return True


def filesystem_type(path: str) -> str:
    """The type of the filesystem holding ``path`` (the longest mount point above it in /proc/mounts)."""
    import os

    target, best, kind = os.path.realpath(path), "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mount = parts[1] if len(parts) > 2 else ""
                if mount and (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                    best, kind = mount, parts[2]
    except OSError:
        return "unknown"
    return kind


class WriteThroughStorage(_CachedStorage):
    """``_CachedStorage`` for a study with one writer: the database is read once per study, never polled."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self._loaded: set[int] = set()
        self._queued: list[tuple] = []  # database writes not yet committed, in order: (method name, *arguments)
        self._deferring = False
        wal_commits(backend)

    @contextmanager
    def one_commit(self) -> Iterator[None]:
        """Hold the parameter and user-attribute writes made inside (one proposal: ~10 parameters and the trial's
        folder name) and commit them in one transaction at the end, instead of one each."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            self.flush()

    def flush(self) -> None:
        """Commit the queued writes (held proposals and per-epoch intermediate values) in one transaction."""
        from optuna.storages._rdb.storage import _create_scoped_session

        with self._lock:
            queued, self._queued = self._queued, []
        if queued:
            with _create_scoped_session(self._backend.scoped_session, True) as session:
                for method, *args in queued:  # RDBStorage's own *_without_commit writes, one transaction
                    getattr(self._backend, method)(session, *args)

    def _queue(self, method: str, *args: Any) -> None:
        with self._lock:
            self._queued.append((method, *args))

    def _read_trials_from_remote_storage(self, study_id: int) -> None:
        if study_id not in self._loaded:
            super()._read_trials_from_remote_storage(study_id)
            self._loaded.add(study_id)

    def _cached(self, trial_id: int):
        """The cached trial (None before its study was first read; writes then reach the database only)."""
        where = self._trial_id_to_study_id_and_number.get(trial_id)
        return None if where is None else self._studies[where[0]].trials[where[1]]

    def get_trial(self, trial_id: int):
        with self._lock:
            trial = self._cached(trial_id)
            if trial is not None:
                return trial if trial.state.is_finished() else copy.deepcopy(trial)
        return self._backend.get_trial(trial_id)

    def create_new_trial(self, study_id: int, template_trial: Any = None) -> int:
        self._read_trials_from_remote_storage(study_id)
        self.flush()
        trial_id = super().create_new_trial(study_id, template_trial)
        with self._lock:
            trial = self._cached(trial_id)
            if not trial.state.is_finished():
                self._studies[study_id].unfinished_trial_ids.add(trial_id)
        return trial_id

    def _edit(self, trial_id: int, change: Any) -> None:
        with self._lock:
            trial = self._cached(trial_id)
            if trial is not None:
                change(trial)

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any) -> None:
        if self._deferring and self._cached(trial_id) is not None:
            where = self._trial_id_to_study_id_and_number[trial_id]
            known = self._studies[where[0]].param_distribution
            previous = known.setdefault(param_name, distribution)  # optuna checks compatibility against the first
            check_distribution_compatibility(previous, distribution)  # refused now, not at the commit
            self._queue(
                "_set_trial_param_without_commit", trial_id, param_name, param_value_internal, distribution, previous
            )
        else:
            super().set_trial_param(trial_id, param_name, param_value_internal, distribution)

        def change(trial: Any) -> None:
            trial._params[param_name] = distribution.to_external_repr(param_value_internal)
            trial._distributions[param_name] = distribution

        self._edit(trial_id, change)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        """Queued until the trial's next state change or the next proposal: the per-epoch record that matters is the
        trial folder's; a driver killed in between loses only these values (resume reads the folders)."""
        self._queue("_set_trial_intermediate_value_without_commit", trial_id, step, intermediate_value)
        self._edit(trial_id, lambda trial: trial.intermediate_values.__setitem__(step, intermediate_value))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        if self._deferring:
            from optuna.storages._rdb import models

            self._queue("_set_trial_attr_without_commit", models.TrialUserAttributeModel, trial_id, key, value)
        else:
            self.flush()
            super().set_trial_user_attr(trial_id, key, value)
        self._edit(trial_id, lambda trial: trial._user_attrs.__setitem__(key, value))

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.flush()
        super().set_trial_system_attr(trial_id, key, value)
        self._edit(trial_id, lambda trial: trial._system_attrs.__setitem__(key, value))

    def set_trial_state_values(self, trial_id: int, state: Any, values: Any = None) -> bool:
        self.flush()  # a finished trial takes no more writes: its queued values go first
        changed = super().set_trial_state_values(trial_id, state, values)
        fresh = self._backend.get_trial(trial_id)  # state, values and datetimes as the database holds them
        with self._lock:
            where = self._trial_id_to_study_id_and_number.get(trial_id)
            if where is None:  # not read yet: the first get_all_trials reads it from the database
                return changed
            study = self._studies[where[0]]
            study.trials[where[1]] = fresh
            if fresh.state.is_finished():
                study.unfinished_trial_ids.discard(trial_id)
                study.last_finished_trial_id = max(study.last_finished_trial_id, trial_id)
        return changed
