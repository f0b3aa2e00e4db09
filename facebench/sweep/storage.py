"""A sweep whose results live in a bucket (``--storage s3://bucket/prefix``): facebench's own layout there.

Tune's ``storage_path`` puts its experiment state under ``<uri>/<name>/ray/`` and would upload a trial only as
``ray/<trial>/checkpoint_*``. facebench keeps the sweep's own layout in the bucket instead, the same as on
disk, so the report and ``--resume`` read it directly::

    <uri>/<name>/sweep.json  study.db  summary.json  trials/<trial_id>/{config,meta,result}.json ...  ray/

Each trial writes its folder on its node's local disk (the engine's atomic writes need a filesystem) and
uploads the files it changed after every epoch and at its end (``Mirror.push``); a trial restarted on
another node, or by a resumed sweep, first downloads its folder, so it continues from its last epoch
checkpoint. The driver downloads every trial folder before the summary, uploads the summary and the
records it writes, and keeps a snapshot of the default SQLite study in the bucket after each finished trial,
so a resume needs nothing but the bucket. A PostgreSQL ``--study-db`` needs no snapshot.
"""

from __future__ import annotations

import fnmatch
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from ..artefacts import OWNED, RESULT, STUDY_DB, SUMMARY_JSON, SWEEP_JSON, TRIALS
from ..errors import ConfigError
from ..ownership import MARKER
from ..storage import Mirror, resolve

# Driver-side files of the sweep folder (with the ownership markers, so --fresh on the bucket knows the folder
# is facebench's); each trial folder is mirrored by its trial, report/ is rebuilt from the bucket.
SWEEP_FILES = (MARKER, f"{TRIALS}/{MARKER}", SWEEP_JSON, SUMMARY_JSON)


def sweep_location(paths: Any):
    """The bucket folder of this sweep (``<uri>/<name>``), or None when results are on a filesystem."""
    return resolve(paths.storage_path) if paths.is_uri else None


def trial_mirror(remote_trials: str | None, trial_dir: Path) -> Mirror | None:
    """A trial's folder and its copy in the bucket; None when the trial folder is already shared storage."""
    if not remote_trials:
        return None
    return Mirror(trial_dir, resolve(remote_trials).join(trial_dir.name))


def remote_exists(paths: Any) -> bool:
    """Whether a sweep of this name already ran at the bucket location (its marker or sweep.json is there)."""
    loc = sweep_location(paths)
    return loc is not None and bool({MARKER, SWEEP_JSON} & set(loc.children()))


def delete_remote(paths: Any) -> list[str]:
    """``--fresh`` on a bucket, as on disk (facebench.ownership): only a sweep folder facebench created (an
    unmarked one is refused), and in it only the names facebench writes; returns the names it kept."""
    loc = sweep_location(paths)
    kids = loc.children() if loc is not None else {}
    if not kids:
        return []
    if MARKER not in kids:
        raise ConfigError(
            f"{loc.uri}: not created by facebench (no {MARKER} marker); facebench deletes only "
            "folders it created: remove it yourself or choose another name"
        )
    kept = []
    for name, kind in kids.items():
        if name != MARKER and not any(fnmatch.fnmatch(name, pat) for pat in OWNED["sweep"]):
            kept.append(name)
        elif kind == pafs.FileType.Directory:
            loc.fs.delete_dir(loc.join(name).path)
        elif name != MARKER:
            loc.fs.delete_file(loc.join(name).path)
    if not kept:
        loc.fs.delete_dir(loc.path)
    return kept


def pull_sweep(paths: Any) -> int:
    """Bring the sweep's files that the local folder lacks down from the bucket (a resume on a new head, or
    trial folders written on other nodes); return how many files came down."""
    loc = sweep_location(paths)
    if loc is None:
        return 0
    return Mirror(paths.sweep_dir, loc).pull()


def push_sweep(paths: Any) -> int:
    """Upload the driver's files (summary, sweep record, records the summary wrote for unfinished trials)."""
    loc = sweep_location(paths)
    if loc is None:
        return 0
    mirror = Mirror(paths.sweep_dir, loc)
    mirror.pull(download=False)  # marks the files already there (same size) as seen, so only changed ones go up
    n = mirror.push(only=SWEEP_FILES)
    trial_files = [f"{TRIALS}/{t.path.name}/{RESULT}" for t in paths.dir.trial_dirs()]
    n += mirror.push(only=tuple(trial_files))
    snapshot_study(paths)
    return n


def local_study_file(paths: Any) -> Path | None:
    """The default SQLite study inside the sweep folder, which must travel with the bucket; else None."""
    prefix = "sqlite:///"
    if not paths.is_uri or not paths.study_url.startswith(prefix):
        return None
    path = Path(paths.study_url[len(prefix) :])
    return path if path.parent == paths.dir.path else None


def snapshot_study(paths: Any) -> bool:
    """Upload a consistent copy of the SQLite study (sqlite3's backup API: never a file caught mid-write)."""
    src = local_study_file(paths)
    loc = sweep_location(paths)
    if src is None or loc is None or not src.exists():
        return False
    with tempfile.TemporaryDirectory(prefix="fbstudy_") as tmp:
        copy = Path(tmp) / STUDY_DB
        with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(copy)) as b:
            a.backup(b)
        loc.join(STUDY_DB).write_bytes(copy.read_bytes())
    return True


def study_snapshot_callback(paths: Any):
    """A Tune callback that snapshots the SQLite study into the bucket when a trial starts (Tune calls it before the
    trial's first training step, so the bucket's study names every trial whose folder can reach the bucket: a
    resume from the bucket alone then knows each of them) and after each finished trial; None when there is
    nothing to snapshot. The study is small (kilobytes per trial), so a full copy each time is fine."""
    if local_study_file(paths) is None:
        return None
    from ray.tune import Callback

    class StudySnapshot(Callback):
        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            snapshot_study(paths)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            snapshot_study(paths)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            snapshot_study(paths)

    return StudySnapshot()


def remote_trials_uri(paths: Any) -> str | None:
    return f"{paths.storage_path.rstrip('/')}/{TRIALS}" if paths.is_uri else None
