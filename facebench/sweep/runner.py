"""Run a sweep: Ray Tune schedules the trials that Optuna proposes, locally or on a Ray cluster.

Layout of one sweep (docs/architecture.md): ``<results>/<name>/{sweep.json, study.db, trials/, ray/,
summary.json}``. The Optuna study lives in a database (SQLite by default, any SQLAlchemy URL for a
cluster) and Tune's experiment state in ``ray/``. ``Output(resume=True)`` continues a sweep whose driver died from the
trial folders and the study (resume.py); Tune's pickled state in ``ray/`` is never read back.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..artefacts import RAY_STATE, TRIALS, SweepDir
from ..errors import ConfigError
from ..ownership import MARKER, claim_dir, remove_owned
from . import storage as bucket
from .lock import driver_lock
from .preflight import check_all, redact, study_storage
from .resume import ResumePlan, check_resumable, describe, open_study, reconcile, remove_stale_temps
from .session import DEFAULT_OUTPUT, LOCAL, Output, Placement, ray_session, set_ray_env
from .spec import ALIAS_MARK, SweepSpec
from .tuner import build_tuner


@dataclass(frozen=True)
class SweepPaths:
    dir: SweepDir  # local (or NFS) sweep folder: sweep.json, study.db, trials/, summary.json
    storage_path: str  # Tune's storage_path (the sweep dir, or <URI>/<name>)
    study_url: str

    @property
    def sweep_dir(self) -> Path:
        return self.dir.path

    @property
    def trials(self) -> Path:
        return self.dir.trials

    @property
    def experiment(self) -> str:
        return f"{self.storage_path.rstrip('/')}/{RAY_STATE}"

    @property
    def is_uri(self) -> bool:
        return "://" in self.storage_path


def sweep_paths(name: str, output: Output) -> SweepPaths:
    """``output.storage`` is a shared path (NFS) or a cloud URI; trial dirs go to the sweep dir, which is the
    shared path itself or, for a URI, a local folder mirrored into ``<URI>/<name>`` (sweep/storage.py)."""
    results, storage = output.results, output.storage
    if storage and "://" not in storage:
        results, storage = storage, None
    sweep = SweepDir(Path(results or os.environ.get("FACEBENCH_RUNS", "runs")).absolute() / name)
    storage_path = f"{storage.rstrip('/')}/{name}" if storage else str(sweep.path)
    return SweepPaths(sweep, storage_path, output.study_db or f"sqlite:///{sweep.study_file}")


def run_sweep(
    spec: SweepSpec, placement: Placement = LOCAL, output: Output = DEFAULT_OUTPUT, *, num_samples: int | None = None
) -> dict:
    """Run (or resume) ``spec`` and return the summary dict also written to ``summary.json``.

    ``placement`` overrides the sweep's resources and says where it runs, ``output`` where it writes and how
    much it shows, ``num_samples`` the sweep's number of trials."""
    spec = placement.apply(spec.replace(num_samples=num_samples) if num_samples is not None else spec)
    spec = _pareto_scheduler(spec)
    paths = sweep_paths(spec.name, output)
    samples = check_space(spec)  # a space that raises or proposes an invalid config fails before any folder is made
    if spec.cover:
        spec = _with_cover(spec, explicit_samples=num_samples is not None)
    # Bucket, study database and Ray address are checked before anything is created (docs/sweeps.md).
    check_all(paths, address=placement.address)
    if output.resume:
        check_resumable(paths.dir, remote=bucket.remote_exists(paths), spec=spec)
    new = not paths.sweep_dir.exists()
    # The lock first: a second driver on a running sweep is told so before anything reads or writes its sweep.json.
    with driver_lock(paths.sweep_dir, study_url=paths.study_url, study_name=spec.name, shown=redact(paths.study_url)):
        if output.resume:
            from .version import check_version

            check_version(paths.dir, allow=output.allow_version_change, what="--resume")
        _prepare_dir(paths, resume=output.resume, fresh=output.fresh)
        try:
            if placement.local and spec.replay is None:  # a replayed sweep reads no data
                warm_data_cache([spec.trial_config(p) for p in samples])
            grid, wall_s, earlier = _fit(spec, paths, placement, output, samples)
        except BaseException:
            if new and not any(p.name != MARKER for p in paths.trials.iterdir()):
                remove_owned(paths.sweep_dir)  # failed before any trial ran (data not found...): leave nothing
            raise
        from .summary import summarize

        bucket.pull_sweep(paths)  # trial folders written on other nodes
        summary = summarize(spec, paths, grid, wall_s=wall_s, earlier=earlier)
        if output.keep_checkpoints == "usable":
            from .retention import drop_unusable

            drop_unusable(paths.dir, summary["trials"])
        bucket.push_sweep(paths)
    return summary


def _pareto_scheduler(spec: SweepSpec) -> SweepSpec:
    """A two-objective sweep runs every trial to the end (FIFO): ASHA stops trials on the accuracy alone, and a
    stopped cheap model would drop off the front it may belong to."""
    if not spec.second_objective or spec.scheduler == "fifo":
        return spec
    print(
        f"facebench sweep: two objectives (objective, {spec.second_objective}): every trial runs to the end; "
        f"scheduler {spec.scheduler!r} replaced by 'fifo'"
    )
    return spec.replace(scheduler="fifo")


def _fit(
    spec: SweepSpec, paths: SweepPaths, placement: Placement, output: Output, samples: list[dict]
) -> tuple[Any, float, list[str]]:
    set_ray_env()
    faults.arm_driver()
    callbacks = []
    if output.trackers:
        from .trackers import tracker_callbacks

        callbacks = tracker_callbacks(
            output.trackers,
            name=spec.name,
            sweep=paths.dir,
            mlflow_tracking_uri=output.mlflow_uri,
            trial_config=spec.trial_config,
        )
    if output.keep_checkpoints == "usable":
        from .retention import ended_early_callback

        callbacks.append(ended_early_callback(str(paths.trials), spec.epochs))
    with ray_session(spec, placement, paths.dir, verbose=output.verbose, bucket=paths.is_uri):
        t0 = time.time()
        plan = resume_plan(spec, paths) if output.resume else ResumePlan()
        if not output.resume:
            _write_sweep_json(spec, paths)
        grid = []
        if plan.new_samples(spec.num_samples) > 0:
            tuner = build_tuner(
                spec, paths, plan, param_columns=_param_columns(samples), verbose=output.verbose, callbacks=callbacks
            )
            bucket.push_sweep(paths)
            grid = tuner.fit()
        return grid, time.time() - t0, plan.finished


def resume_plan(spec: SweepSpec, paths: SweepPaths) -> ResumePlan:
    """Reconcile the trial folders with the study (resume.py) and say what the resumed run will do."""
    from .studycache import WriteThroughStorage

    stale = remove_stale_temps(paths.dir)
    storage = WriteThroughStorage(study_storage(paths.study_url))  # read once here, handed on to the searcher
    study = open_study(spec, storage)
    plan = reconcile(spec, paths.dir, study) if study is not None else ResumePlan()
    plan.stale = stale
    plan.storage = storage
    plan.proposed = len(study.trials) if study is not None else 0
    print(describe(plan))
    return plan


def _write_sweep_json(spec: SweepSpec, paths: SweepPaths) -> None:
    from .version import code_version

    now = code_version()
    paths.dir.write_spec(
        {
            **spec.to_json(),
            "study_db": redact(paths.study_url),
            "experiment": paths.experiment,
            "code_version": now,
            "code_versions": [now],
        }
    )


def _with_cover(spec: SweepSpec, *, explicit_samples: bool) -> SweepSpec:
    """A smoke run's first trials cover every categorical choice; it runs at least that many unless
    --num-samples says otherwise."""
    from .cover import covering_points

    points = covering_points(spec)
    n = spec.num_samples if explicit_samples else max(spec.num_samples, len(points))
    return spec.replace(start_points=tuple(points[:n]), num_samples=n)


def _prepare_dir(paths: SweepPaths, *, resume: bool, fresh: bool) -> None:
    """Checks before anything is removed: --fresh deletes only a sweep folder facebench created, and in it
    only what facebench wrote (facebench.ownership); a folder of the user's is refused untouched."""
    state = paths.dir.ray
    if fresh and not resume:
        bucket.delete_remote(paths)
    if fresh and not resume and paths.sweep_dir.exists():
        left = remove_owned(paths.sweep_dir)
        if left:
            print(
                f"facebench sweep: --fresh kept what facebench did not write in {paths.sweep_dir}: "
                + ", ".join(left[:5])
                + (" ..." if len(left) > 5 else "")
            )
    elif not resume and ((state.exists() and any(state.iterdir())) or bucket.remote_exists(paths)):
        where = paths.storage_path if paths.is_uri else paths.sweep_dir
        raise ConfigError(
            f"{where}: a sweep with this name already ran there; pass --resume to "
            "continue it, --fresh to delete it, or another --results folder"
        )
    if resume:
        bucket.pull_sweep(paths)  # a resume on a new head: the bucket holds the sweep (and its markers)
    claim_dir(paths.sweep_dir, "sweep")
    claim_dir(paths.trials, TRIALS)


def check_space(spec: SweepSpec, *, n: int = 16) -> list[dict]:
    """Draw ``n`` proposals from the space with a throwaway random sampler and validate each config, so a
    space that proposes an invalid combination fails here, before any cluster time is spent."""
    import optuna

    from .trainable import validate_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.seed))
    samples = []
    for _ in range(n):
        trial = study.ask()
        proposed = call_space(spec, trial)
        params = {**trial.params, **proposed}
        validate_config(spec.trial_config(params))  # ConfigError names the key and the allowed values
        samples.append({k: v for k, v in params.items() if ALIAS_MARK not in k})
        study.tell(trial, 0.0)
    return samples


def call_space(spec: SweepSpec, trial: Any) -> dict:
    """The sweep's space on one Optuna trial. An exception the space raises (other than facebench's own
    FacebenchError) is the sweep file's mistake: one line naming the space, the cause chained for --debug."""
    from ..errors import FacebenchError

    try:
        return spec.space(trial) or {}
    except (FacebenchError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - any error of the user's own space function
        text = " ".join(str(e).split()) or "(no message)"
        raise ConfigError(
            f"{describe_space(spec.space)} of sweep {spec.name!r} raised {type(e).__name__}: {text} "
            "(--debug shows the traceback)"
        ) from e


def describe_space(fn: Any) -> str:
    """``FILE:LINE: search space NAME``, where the space function is defined."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None) or getattr(type(fn).__call__, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}: " if code is not None else ""
    return f"{where}search space {getattr(fn, '__qualname__', type(fn).__qualname__)}"


def warm_data_cache(samples: list[dict], *, limit: int = 4) -> None:
    """Decode the datasets once in the driver, so trials read the cache instead of each decoding JPEGs."""
    from ..config import TrialConfig
    from ..data import build_task_data

    seen: list[dict] = []
    for flat in samples:
        data_keys = {k: v for k, v in flat.items() if k.startswith("data.")}
        if data_keys not in seen and len(seen) < limit:
            seen.append(data_keys)
            build_task_data(TrialConfig.from_dict(flat))


def _param_columns(samples: list[dict], limit: int = 6) -> list[str]:
    # Only parameters every proposal has: Tune's table cannot show a conditional one that a trial lacks.
    always = [k for k in samples[0] if all(k in s for s in samples)]
    varying = [k for k in always if len({repr(s[k]) for s in samples}) > 1]
    return varying[:limit]
