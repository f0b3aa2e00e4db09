"""Run a sweep: Ray Tune schedules the trials that Optuna proposes, locally or on a Ray cluster.

Layout of one sweep (docs/architecture.md): ``<results>/<name>/{sweep.json, study.db, trials/, ray/,
summary.json}``. The Optuna study lives in a database (SQLite by default, any SQLAlchemy URL for a
cluster) and Tune's experiment state in ``ray/``. ``resume=True`` continues a sweep whose driver died from the
trial folders and the study (resume.py); Tune's pickled state in ``ray/`` is never read back.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..errors import ConfigError
from ..io import atomic_write_json
from ..ownership import MARKER, claim_dir, remove_owned
from . import storage as bucket
from .preflight import check_all, redact, study_storage
from .resume import ResumePlan, check_resumable, describe, open_study, reconcile, remove_stale_temps
from .spec import ALIAS_MARK, SweepSpec

# Set before Ray is imported: no auth token or usage report for a local cluster, and no Tune logger
# callbacks (they import torch in the driver and duplicate what the trial directory records). Tune warns
# about any driver step over 0.5 s; on a busy laptop that is a line every few seconds: warn past 5 s.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
           "RAY_AIR_NEW_OUTPUT": "0", "TUNE_MAX_PENDING_TRIALS_PG": "auto", "TUNE_WARN_THRESHOLD_S": "5",
           # Ctrl-C raises KeyboardInterrupt at once (exit 130) instead of Tune's graceful stop, which would end
           # the running trials as if finished; they stay unfinished and --resume continues them.
           "TUNE_DISABLE_SIGINT_HANDLER": "1"}


@dataclass(frozen=True)
class SweepPaths:
    sweep_dir: Path           # local (or NFS) folder: sweep.json, study.db, trials/, summary.json
    storage_path: str         # Tune's storage_path (the sweep dir, or <URI>/<name>)
    study_url: str

    @property
    def trials(self) -> Path:
        return self.sweep_dir / "trials"

    @property
    def experiment(self) -> str:
        return f"{self.storage_path.rstrip('/')}/ray"

    @property
    def is_uri(self) -> bool:
        return "://" in self.storage_path


def sweep_paths(name: str, *, results_dir: str | None, storage: str | None, study_db: str | None) -> SweepPaths:
    """``storage`` is a shared path (NFS) or a cloud URI; trial dirs go to the sweep dir, which is the
    shared path itself or, for a URI, a local folder mirrored into ``<URI>/<name>`` (sweep/storage.py)."""
    if storage and "://" not in storage:
        results_dir, storage = storage, None
    sweep_dir = Path(results_dir or os.environ.get("FACEBENCH_RUNS", "runs")).absolute() / name
    storage_path = f"{storage.rstrip('/')}/{name}" if storage else str(sweep_dir)
    return SweepPaths(sweep_dir, storage_path, study_db or f"sqlite:///{sweep_dir / 'study.db'}")


def run_sweep(spec: SweepSpec, *, local: bool = True, address: str | None = None, storage: str | None = None,
              study_db: str | None = None, resume: bool = False, fresh: bool = False, num_samples: int | None = None,
              gpus_per_trial: float | None = None, cpus_per_trial: float | None = None,
              max_concurrent: int | None = None, results_dir: str | None = None, verbose: int = 1,
              trackers: tuple[str, ...] = (), mlflow_uri: str | None = None) -> dict:
    """Run (or resume) ``spec`` and return the summary dict also written to ``summary.json``.

    ``verbose``: 0 nothing while it runs, 1 one progress line (progress.py), 2 Ray's status table and the
    trials' own output. ``trackers``: "tensorboard", "mlflow" (Ray Tune's logger callbacks)."""
    spec = _with_overrides(spec, num_samples=num_samples, gpus_per_trial=gpus_per_trial,
                           cpus_per_trial=cpus_per_trial, max_concurrent=max_concurrent)
    paths = sweep_paths(spec.name, results_dir=results_dir, storage=storage, study_db=study_db)
    samples = check_space(spec)  # a space that raises or proposes an invalid config fails before any folder is made
    if spec.cover:
        spec = _with_cover(spec, explicit_samples=num_samples is not None)
    # Bucket, study database and Ray address are checked before anything is created (docs/sweeps.md).
    check_all(paths, address=None if local and not address else address)
    if resume:
        check_resumable(paths.sweep_dir, remote=bucket.remote_exists(paths))
    new = not paths.sweep_dir.exists()
    _prepare_dir(paths, resume=resume, fresh=fresh)
    try:
        if local:
            warm_data_cache([spec.trial_config(p) for p in samples])
        grid, wall_s, earlier = _fit(spec, paths, local=local, address=address, resume=resume, samples=samples,
                                     verbose=verbose, trackers=trackers, mlflow_uri=mlflow_uri)
    except BaseException:
        if new and not any(p.name != MARKER for p in paths.trials.iterdir()):
            remove_owned(paths.sweep_dir)   # failed before any trial ran (data not found...): leave nothing behind
        raise
    from .summary import summarize

    bucket.pull_sweep(paths)   # trial folders written on other nodes
    summary = summarize(spec, paths, grid, wall_s=wall_s, earlier=earlier)
    bucket.push_sweep(paths)
    return summary


def _fit(spec: SweepSpec, paths: SweepPaths, *, local: bool, address: str | None, resume: bool, samples: list[dict],
         verbose: int, trackers: tuple[str, ...], mlflow_uri: str | None) -> tuple[Any, float, list[str]]:
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    faults.arm_driver()
    import ray

    from .progress import keep_ray_logs

    callbacks = []
    if trackers:
        from .trackers import tracker_callbacks

        callbacks = tracker_callbacks(trackers, name=spec.name, sweep_dir=paths.sweep_dir,
                                      mlflow_tracking_uri=mlflow_uri, trial_config=spec.trial_config)
    temp_dir = _init_ray(local=local, address=address, gpus=spec.gpus_per_trial, verbose=verbose)
    t0 = time.time()
    try:
        _check_resources(spec, local=local and not address)
        plan = resume_plan(spec, paths) if resume else ResumePlan()
        if not resume:
            _write_sweep_json(spec, paths)
        grid = []
        if plan.new_samples(spec.num_samples) > 0:
            tuner = _build_tuner(spec, paths, plan, param_columns=_param_columns(samples), verbose=verbose,
                                 callbacks=callbacks)
            bucket.push_sweep(paths)
            grid = tuner.fit()
        return grid, time.time() - t0, plan.finished
    finally:
        if temp_dir is not None:
            ray.shutdown()
            if temp_dir:
                keep_ray_logs(temp_dir, paths.sweep_dir)


def resume_plan(spec: SweepSpec, paths: SweepPaths) -> ResumePlan:
    """Reconcile the trial folders with the study (resume.py) and say what the resumed run will do."""
    stale = remove_stale_temps(paths.sweep_dir)
    study = open_study(spec, study_storage(paths.study_url))
    plan = reconcile(spec, paths.trials, study) if study is not None else ResumePlan()
    plan.stale = stale
    plan.proposed = len(study.trials) if study is not None else 0
    print(describe(plan))
    return plan


def _write_sweep_json(spec: SweepSpec, paths: SweepPaths) -> None:
    atomic_write_json(paths.sweep_dir / "sweep.json", {**spec.to_json(), "study_db": redact(paths.study_url),
                                                        "experiment": paths.experiment})


def _with_overrides(spec: SweepSpec, **overrides: Any) -> SweepSpec:
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "gpus_per_trial" in changes and changes["gpus_per_trial"] > 0 and "train.device" not in spec.base:
        spec = spec.replace(base={**spec.base, "train.device": "cuda"})
    spec = spec.replace(**changes) if changes else spec
    if "train.threads" not in spec.base:
        spec = spec.replace(base={**spec.base, "train.threads": trial_threads(spec.cpus_per_trial)})
    return spec


def trial_threads(cpus_per_trial: float) -> int:
    """torch threads of a trial: one per CPU it holds (torch's default is every core of the node, and concurrent
    trials would fight over them). The sweep's trials and the confirmation's re-runs both use it."""
    return max(1, int(cpus_per_trial))


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
    state = paths.sweep_dir / "ray"
    if fresh and not resume:
        bucket.delete_remote(paths)
    if fresh and not resume and paths.sweep_dir.exists():
        left = remove_owned(paths.sweep_dir)
        if left:
            print(f"facebench sweep: --fresh kept what facebench did not write in {paths.sweep_dir}: "
                  + ", ".join(left[:5]) + (" ..." if len(left) > 5 else ""))
    elif not resume and ((state.exists() and any(state.iterdir())) or bucket.remote_exists(paths)):
        where = paths.storage_path if paths.is_uri else paths.sweep_dir
        raise ConfigError(f"{where}: a sweep with this name already ran there; pass --resume to "
                          "continue it, --fresh to delete it, or another --results folder")
    if resume:
        bucket.pull_sweep(paths)   # a resume on a new head: the bucket holds the sweep (and its markers)
    claim_dir(paths.sweep_dir, "sweep")
    claim_dir(paths.trials, "trials")


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
        proposed = spec.space(trial) or {}
        params = {**trial.params, **proposed}
        validate_config(spec.trial_config(params))   # ConfigError names the key and the allowed values
        samples.append({k: v for k, v in params.items() if ALIAS_MARK not in k})
        study.tell(trial, 0.0)
    return samples


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


def _init_ray(*, local: bool, address: str | None, gpus: float, verbose: int = 1) -> str | None:
    """Start or join Ray. Returns None when Ray was already running (the caller leaves it be), else what this
    call started: a private local Ray's temp dir (whose logs go to the sweep folder), or "" for a cluster."""
    import ray

    from .progress import ray_temp_dir

    if ray.is_initialized():
        return None
    if local and not address:
        # GPUs: Ray's own detection (CUDA_VISIBLE_DEVICES / NVML); a GPU sweep on a machine without one is then
        # refused by _check_resources instead of scheduling "GPU" trials onto the CPU.
        temp_dir = ray_temp_dir()
        ray.init(address="local", num_cpus=os.cpu_count(), num_gpus=None if gpus > 0 else 0,
                 include_dashboard=False, logging_level="WARNING", log_to_driver=verbose >= 2, _temp_dir=temp_dir)
        return temp_dir
    target = address or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ray.init(address=target, logging_level="WARNING")
    except ConnectionError as e:
        raise ConfigError(f"--address {target}: cannot reach a Ray cluster there ({e}); start one with "
                          "`ray start --head` or `ray up cluster/cluster.yaml`, or run on this machine with --local")
    return ""


def _check_resources(spec: SweepSpec, *, local: bool) -> None:
    """A trial asking for more than the largest node has stays PENDING forever: on this machine that is an
    error; on a cluster it is a warning, since the autoscaler may still add such a node."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
    if spec.cpus_per_trial <= cpus and spec.gpus_per_trial <= gpus:
        return
    msg = (f"a trial needs {spec.cpus_per_trial:g} CPUs and {spec.gpus_per_trial:g} GPUs but the largest Ray node "
           f"has {cpus:g} CPUs and {gpus:g} GPUs; pass --cpus-per-trial / --gpus-per-trial (0 without a GPU)")
    if local:
        raise ConfigError(msg)
    print(f"facebench sweep: warning: {msg}; waiting for the autoscaler")


def _param_columns(samples: list[dict], limit: int = 6) -> list[str]:
    # Only parameters every proposal has: Tune's table cannot show a conditional one that a trial lacks.
    always = [k for k in samples[0] if all(k in s for s in samples)]
    varying = [k for k in always if len({repr(s[k]) for s in samples}) > 1]
    return varying[:limit]


def _build_tuner(spec: SweepSpec, paths: SweepPaths, plan: ResumePlan, *, param_columns: list[str], verbose: int,
                 callbacks: list = ()):
    """A new Tuner on every run, a resumed one too: its first trials are the plan's continuations (their own
    ids and folders), then new proposals up to ``num_samples``."""
    from ray import tune

    from .trainable import TrialSetup, train_trial, trial_dirname

    setup = TrialSetup(spec=spec, trials_root=str(paths.trials), remote_trials=bucket.remote_trials_uri(paths))
    resources = {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(train_trial, setup=setup), resources)
    from ray.tune.search import ConcurrencyLimiter

    search = make_searcher(spec, paths.study_url, continuations=plan.continuations, seed_offset=plan.proposed)
    if spec.max_concurrent:
        search = ConcurrencyLimiter(search, max_concurrent=spec.max_concurrent)
    metric, mode = spec.objective
    tune_config = tune.TuneConfig(metric="objective", mode=mode, search_alg=search,
                                  scheduler=make_scheduler(spec), num_samples=plan.new_samples(spec.num_samples),
                                  reuse_actors=True,
                                  trial_dirname_creator=trial_dirname, trial_name_creator=trial_dirname)
    reporter = tune.CLIReporter(metric_columns={"epoch": "epoch", "objective": f"{metric} ({spec.select})",
                                                "train_loss": "loss"},
                                parameter_columns=param_columns, max_report_frequency=15, sort_by_metric=True)
    from ray.tune.logger import JsonLoggerCallback

    from .progress import ProgressLine

    # The JSON logger (ResultGrid reads it), the study snapshot for a bucket and the trackers asked for; Tune's
    # automatic CSV/TensorBoard loggers are off (RAY_ENV). Ray's table only with --verbose, else one progress line.
    callbacks = [JsonLoggerCallback(), bucket.study_snapshot_callback(paths), *callbacks]
    if verbose == 1:
        callbacks.append(ProgressLine(name=spec.name, metric="objective", mode=mode,
                                      label=f"{metric} ({spec.select} epoch)", epochs=spec.epochs,
                                      total=plan.new_samples(spec.num_samples)))
    run_config = tune.RunConfig(name="ray", storage_path=paths.storage_path, verbose=1 if verbose >= 2 else 0,
                                progress_reporter=reporter, callbacks=[c for c in callbacks if c is not None],
                                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                checkpoint_config=tune.CheckpointConfig(num_to_keep=1))
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def make_scheduler(spec: SweepSpec):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if spec.scheduler == "fifo" or spec.epochs <= spec.grace_period:
        return FIFOScheduler()
    # stop_last_trials=False: a trial reaching the last epoch must finish its final evaluation itself.
    return ASHAScheduler(time_attr="epoch", max_t=spec.epochs, grace_period=spec.grace_period,
                         reduction_factor=spec.reduction_factor, stop_last_trials=False)


def make_searcher(spec: SweepSpec, study_url: str, *, continuations: list = (), seed_offset: int = 0):
    """``seed_offset``: trials the study already proposed. A resumed sweep's sampler starts a new random stream
    (seed + offset), else a seeded sampler would replay its first proposals and train them twice."""
    import optuna

    from .search import StudySearch

    storage = study_storage(study_url)
    seed = spec.seed + seed_offset
    if spec.sampler == "grid":
        sampler = optuna.samplers.GridSampler({k: list(v) for k, v in spec.grid.items()}, seed=seed)
    elif spec.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    # Every trial reports its running objective (engine/selection.py) as "objective": the one number Optuna is
    # told, ASHA compares and the summary ranks; a trial the scheduler stopped is PRUNED, never "best".
    return StudySearch(space=spec.space, metric="objective", mode=spec.objective[1], sampler=sampler,
                       study_name=spec.name, storage=storage, start_points=spec.start_points,
                       continuations=continuations, epochs=spec.epochs)

