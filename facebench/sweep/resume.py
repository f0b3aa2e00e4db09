"""``--resume``: rebuild a sweep's state from facebench's own records, never from Tune's pickles.

The truth is the trial folders (``trials/<id>/result.json``, ``epochs.jsonl``, ``checkpoint.pt``: JSON and a
``weights_only`` checkpoint) and the Optuna study (each trial carries its folder's id as a user attribute).
Tune's ``ray/`` folder is written but never read back: ``Tuner.restore`` unpickles ``tuner.pkl`` and the
searcher's state, which anyone with write access to a shared results folder could replace.

``reconcile`` decides, for every trial the study or the folders know:
- finished (its ``result.json`` says completed, failed or stopped): kept as it is; if the study still has it
  RUNNING (the driver died before telling Optuna), Optuna is told now, the value Tune would have told;
- unfinished and RUNNING in the study: continued in its own folder under its own id with its own
  configuration, first in the new run (the engine resumes from its last epoch checkpoint);
- finished in the study but without a readable ``result.json`` (a torn file, or a trial the scheduler
  stopped before the summary wrote its record): the record is rewritten, without telling Optuna again;
- RUNNING in the study without a folder id (the driver died between Optuna's ask and naming the trial):
  marked FAIL, since no trial ever ran it.
New trials then fill the sweep up to ``num_samples``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..artefacts import FAILED, STOPPED, SweepDir, TrialDir
from ..errors import ConfigError
from .spec import SweepSpec
from .summary import write_unfinished_record

# Optuna user attribute linking a study trial to its trial folder ``trials/<id>``; the same id travels in the Tune
# config under TRIAL_KEY (an Optuna-only name, so ``SweepSpec.trial_config`` drops it from the training config).
TRIAL_ATTR = "facebench_trial_id"
TRIAL_KEY = "facebench@trial"


@dataclass(frozen=True)
class Continuation:
    """An unfinished trial of an interrupted run: same folder, same Optuna trial, same configuration."""

    trial_id: str
    storage_id: int  # the Optuna trial's id in its storage (``FrozenTrial._trial_id``)
    config: dict  # the Tune config it had: Optuna's params plus what the space function derived
    told: bool = False  # Optuna already holds its final value (only its result file needs rewriting)


@dataclass
class ResumePlan:
    finished: list[str] = field(default_factory=list)  # trial ids kept as they are
    continuations: list[Continuation] = field(default_factory=list)
    told: list[str] = field(default_factory=list)  # finished trials Optuna was told about now
    closed: list[int] = field(default_factory=list)  # Optuna trial numbers marked FAIL (never ran)
    stale: int = 0  # temporary files of interrupted writes removed
    proposed: int = 0  # Optuna trials the study held before this run
    storage: Any = None  # the study's storage as reconcile read it: the searcher goes on from it, not re-reading

    def new_samples(self, num_samples: int) -> int:
        """Trials the resumed run starts: the continuations, then new ones up to ``num_samples``."""
        return max(len(self.continuations), num_samples - len(self.finished))


def check_resumable(sweep: SweepDir, *, remote: bool = False, spec: SweepSpec | None = None) -> None:
    """``remote``: the sweep's bucket location holds it (a resume on a new head pulls it from there). A sweep
    folder of a newer layout than this facebench reads is refused (``artefacts.check_layout``), and so is resuming
    with another declaration of the objectives than the sweep ran with (``spec``: a Pareto study has two directions)."""
    if not remote and not sweep.spec_file.is_file():
        raise ConfigError(f"{sweep.path}: no sweep ran there, so there is nothing to resume; run it without --resume")
    saved = sweep.read_spec()
    if spec is not None and saved is not None and saved.get("second_objective", "") != spec.second_objective:

        def said(name: str) -> str:
            return f"objective and {name}" if name else "one objective"

        raise ConfigError(
            f"{sweep.path}: the sweep there ran with {said(saved.get('second_objective', ''))}; "
            f"resume it with the same declaration (now: {said(spec.second_objective)})"
        )


def remove_stale_temps(sweep: SweepDir) -> int:
    """Delete the temporary files of writes a kill interrupted, in the sweep folder and each trial folder (only
    in folders facebench owns, only the names its atomic writer makes: facebench.ownership)."""
    from ..ownership import remove_stale_temps as remove_in

    folders = [sweep.path, *([sweep.trials] if sweep.trials.is_dir() else []), *(t.path for t in sweep.trial_dirs())]
    return sum(len(remove_in(folder)) for folder in folders)


def told_value(trial: TrialDir, metric: str | list[str]) -> float | list[float] | None:
    """What Tune tells Optuna for a finished trial: ``metric`` of the trial's last reported epoch (a list of metrics,
    for a Pareto sweep: their values in that epoch, or None unless it has all of them)."""
    keys = metric if isinstance(metric, list) else [metric]
    rows = [r for r in trial.read_epochs() if all(isinstance(r.get(k), (int, float)) for k in keys)]
    if not rows:
        return None
    values = [float(rows[-1][k]) for k in keys]
    return values if isinstance(metric, list) else values[0]


def reconcile(spec: SweepSpec, sweep: SweepDir, study: Any) -> ResumePlan:
    import optuna

    plan = ResumePlan()
    State = optuna.trial.TrialState
    seen = set()
    for frozen in study.get_trials(deepcopy=False):
        trial_id = frozen.user_attrs.get(TRIAL_ATTR)
        if trial_id is None:
            if frozen.state == State.RUNNING:
                study.tell(frozen.number, state=State.FAIL)
                plan.closed.append(frozen.number)
            continue
        seen.add(trial_id)
        trial = sweep.trial(trial_id)
        record = trial.final_result()
        if record is not None:
            plan.finished.append(trial_id)
            if frozen.state == State.RUNNING:
                _tell(study, frozen.number, record, told_value(trial, _told_metric(spec)))
                plan.told.append(trial_id)
        elif frozen.state == State.RUNNING:
            plan.continuations.append(Continuation(trial_id, frozen._trial_id, tune_config(spec, frozen)))
        elif frozen.state.is_finished():
            _settle_told(spec, trial, frozen, plan)
    for trial in sweep.trial_dirs():
        if trial.path.name not in seen and trial.final_result() is not None:
            plan.finished.append(trial.path.name)  # a trial the study does not name (an older facebench's sweep)
    return plan


def _told_metric(spec: SweepSpec) -> str | list[str]:
    """The key(s) Optuna is told: "objective", or [objective, cost] for a Pareto sweep (spec.objectives)."""
    keys = [key for key, _ in spec.objectives]
    return keys if len(keys) > 1 else keys[0]


def _tell(study: Any, number: int, record: dict, value: float | list[float] | None) -> None:
    import optuna

    State = optuna.trial.TrialState
    if record["status"] == FAILED:
        study.tell(number, state=State.FAIL)
    elif value is None or record["status"] == STOPPED:  # stopped by the scheduler: never the study's best
        study.tell(number, state=State.PRUNED)
    else:
        study.tell(number, value)


def _settle_told(spec: SweepSpec, trial: TrialDir, frozen: Any, plan: ResumePlan) -> None:
    """Optuna has the trial's outcome but its folder has no readable record: a trial that reached its last
    epoch is finished again from its checkpoint (test metrics and result.json rebuilt, Optuna not told);
    one stopped earlier by the scheduler, or failed, gets the record the summary would have written."""
    import optuna

    epochs = trial.read_epochs()
    last = int(trial.read_config().get("train.epochs", spec.epochs))
    if frozen.state == optuna.trial.TrialState.COMPLETE and len(epochs) >= last:
        plan.continuations.append(Continuation(trial.path.name, frozen._trial_id, tune_config(spec, frozen), told=True))
        return
    error = (
        "the trial ended with an error; its message was lost when the sweep was interrupted"
        if frozen.state == optuna.trial.TrialState.FAIL
        else None
    )
    write_unfinished_record(trial, error, epochs)
    plan.finished.append(trial.path.name)


def tune_config(spec: SweepSpec, frozen: Any) -> dict:
    """The Tune config the trial first had: Optuna's parameters replayed through the space function, which
    adds the keys it derives from them (``loss.margin`` from ``loss.margin@arcface``)."""
    import optuna

    params = dict(frozen.params)
    try:
        derived = spec.space(optuna.trial.FixedTrial(params)) or {}
    except ValueError as e:
        raise ConfigError(
            f"trial {frozen.user_attrs.get(TRIAL_ATTR)}: its parameters {params} no longer fit "
            f"the sweep's space ({e}); resume with the sweep file it started with"
        ) from None
    return {**params, **derived}


def open_study(spec: SweepSpec, storage: Any) -> Any | None:
    """The sweep's study, or None when no trial was ever proposed (the driver died before Optuna started)."""
    import optuna

    try:
        return optuna.load_study(study_name=spec.name, storage=storage)
    except KeyError:
        return None


def describe(plan: ResumePlan) -> str:
    parts = [f"{len(plan.finished)} finished trials kept", f"{len(plan.continuations)} continued"]
    if plan.told:
        parts.append(f"{len(plan.told)} results told to Optuna now")
    if plan.closed:
        parts.append(f"{len(plan.closed)} never-started Optuna trials closed")
    if plan.stale:
        parts.append(f"{plan.stale} stale temporary files removed")
    return "facebench sweep: resuming: " + ", ".join(parts)
