"""The Tune side of a sweep: the Tuner, its Optuna searcher and its scheduler (runner.py runs what it builds).

Ray is imported inside the functions, as everywhere in facebench.sweep: importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..artefacts import RAY_STATE
from . import storage as bucket
from .preflight import study_storage
from .resume import ResumePlan
from .session import trial_slots
from .spec import SweepSpec

if TYPE_CHECKING:  # runner.py imports this module: its SweepPaths only annotates here
    from .runner import SweepPaths


def build_tuner(
    spec: SweepSpec,
    paths: SweepPaths,
    plan: ResumePlan,
    *,
    param_columns: list[str],
    verbose: int,
    callbacks: list = (),
):
    """A new Tuner on every run, a resumed one too: its first trials are the plan's continuations (their own
    ids and folders), then new proposals up to ``num_samples``."""
    from ray import tune

    from .trainable import TrialSetup, train_trial

    setup = TrialSetup(spec=spec, trials_root=str(paths.trials), remote_trials=bucket.remote_trials_uri(paths))
    resources = {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial}
    trainable = tune.with_resources(tune.with_parameters(train_trial, setup=setup), resources)
    tune_config = _tune_config(spec, paths, plan)
    metric = spec.objective[0]
    reporter = tune.CLIReporter(
        metric_columns={"epoch": "epoch", "objective": f"{metric} ({spec.select})", "train_loss": "loss"},
        parameter_columns=param_columns,
        max_report_frequency=15,
        sort_by_metric=True,
    )
    run_config = tune.RunConfig(
        name=RAY_STATE,
        storage_path=paths.storage_path,
        verbose=1 if verbose >= 2 else 0,
        progress_reporter=reporter,
        callbacks=_callbacks(spec, paths, plan, verbose=verbose, extra=callbacks),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def _tune_config(spec: SweepSpec, paths: SweepPaths, plan: ResumePlan):
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from .trainable import trial_dirname

    paths.dir.suggest_log.parent.mkdir(parents=True, exist_ok=True)
    search = make_searcher(
        spec,
        paths.study_url,
        continuations=plan.continuations,
        seed_offset=plan.proposed,
        timing_log=str(paths.dir.suggest_log),
        storage=plan.storage,
    )
    search = ConcurrencyLimiter(search, max_concurrent=spec.max_concurrent or trial_slots(spec))
    return tune.TuneConfig(
        metric="objective",
        mode=spec.objective[1],
        search_alg=search,
        scheduler=make_scheduler(spec),
        num_samples=plan.new_samples(spec.num_samples),
        reuse_actors=True,
        trial_dirname_creator=trial_dirname,
        trial_name_creator=trial_dirname,
    )


def _callbacks(spec: SweepSpec, paths: SweepPaths, plan: ResumePlan, *, verbose: int, extra: list) -> list:
    """The JSON logger (ResultGrid reads it), the study snapshot for a bucket and the trackers asked for (``extra``);
    Tune's automatic CSV/TensorBoard loggers are off (RAY_ENV). Ray's table only with --verbose, else one progress
    line."""
    from ray.tune.logger import JsonLoggerCallback

    from .progress import ProgressLine

    callbacks = [JsonLoggerCallback(), bucket.study_snapshot_callback(paths), *extra]
    if verbose == 1:
        metric, mode = spec.objective
        callbacks.append(
            ProgressLine(
                name=spec.name,
                mode=mode,
                label=f"{metric} ({spec.select} epoch)",
                epochs=spec.epochs,
                total=plan.new_samples(spec.num_samples),
            )
        )
    return [c for c in callbacks if c is not None]


def make_scheduler(spec: SweepSpec):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if spec.scheduler == "fifo" or spec.second_objective or spec.epochs <= spec.grace_period:
        return FIFOScheduler()
    # stop_last_trials=False: a trial reaching the last epoch must finish its final evaluation itself.
    return ASHAScheduler(
        time_attr="epoch",
        max_t=spec.epochs,
        grace_period=spec.grace_period,
        reduction_factor=spec.reduction_factor,
        stop_last_trials=False,
    )


def make_searcher(
    spec: SweepSpec,
    study_url: str,
    *,
    continuations: list = (),
    seed_offset: int = 0,
    timing_log: str | None = None,
    storage: Any = None,
):
    """``seed_offset``: trials the study already proposed. A resumed sweep's sampler starts a new random stream
    (seed + offset), else a seeded sampler would replay its first proposals and train them twice. ``storage``: the
    study's write-through storage where the resume already read it (else opened here)."""
    import optuna

    from .sampler import tpe_sampler
    from .search import StudySearch
    from .studycache import WriteThroughStorage

    if storage is None:
        storage = WriteThroughStorage(study_storage(study_url))  # one writer: read once, then written through
    seed = spec.seed + seed_offset
    if spec.sampler == "grid":
        sampler = optuna.samplers.GridSampler({k: list(v) for k, v in spec.grid.items()}, seed=seed)
    elif spec.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = tpe_sampler(seed=seed)  # Optuna's TPE, the history split once per proposal (sampler.py)
    # Every trial reports its running objective (engine/selection.py) as "objective": the one number Optuna is
    # told, ASHA compares and the summary ranks; a trial the scheduler stopped is PRUNED, never "best". A Pareto
    # sweep also reports its cost from the first epoch, and Optuna's study gets both, with two directions (TPE's
    # multi-objective mode); Tune itself keeps "objective" as its one scalar for its own bookkeeping.
    metric, mode = zip(*spec.objectives)
    return StudySearch(
        space=spec.space,
        metric=list(metric) if spec.second_objective else metric[0],
        mode=list(mode) if spec.second_objective else mode[0],
        sampler=sampler,
        study_name=spec.name,
        storage=storage,
        start_points=spec.start_points,
        continuations=continuations,
        epochs=spec.epochs,
        timing_log=timing_log,
    )
