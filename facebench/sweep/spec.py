"""What a sweep is: a base config, an Optuna define-by-run space, an objective and how to schedule trials.

Plain data, no Ray: a sweep file is a module that defines ``SPEC = SweepSpec(...)`` (``load_sweep_file`` imports
it for ``facebench sweep FILE``; ``python FILE`` hands it to ``facebench.sweep.main``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import OBJECTIVE_MODES, SELECT_RULES, TASK_OBJECTIVES, TASKS, objective_of
from ..errors import ConfigError
from ..ownership import check_name
from ..pareto import COST_KEY, check_cost

SCHEDULERS = ("asha", "fifo")
SAMPLERS = ("tpe", "grid", "random")
# Optuna-only parameter names carry the variant they belong to after "@" (``loss.margin@arcface``), so
# TPE models each loss's margin on its own; the space function returns the real config key beside it.
ALIAS_MARK = "@"
# The numeric fields of a SweepSpec (a sweep file's, or a profile's after it is applied): field -> [lo, hi].
SPEC_RANGES = {
    "num_samples": (1, 100_000),
    "smoke_num_samples": (1, 100_000),
    "cpus_per_trial": (0.01, 1024),
    "gpus_per_trial": (0, 64),
    "max_concurrent": (0, 100_000),
    "seed": (0, 2**63 - 1),
    "max_failures": (0, 100),
    "grace_period": (1, 100_000),
    "reduction_factor": (2, 100),
    "confirm_top": (0, 1000),
    "confirm_seeds": (1, 1000),
    "equivalence_margin": (0.0001, 0.5),
}


def _check_range(key: str, value: Any, lo: float, hi: float) -> None:
    """A finite number (whole where the field counts something) in ``[lo, hi]``; else a ConfigError naming the
    field and the range."""
    import math

    whole = key not in ("cpus_per_trial", "gpus_per_trial", "equivalence_margin")
    ok = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(
            f"sweep {key} {value!r}: out of range; allowed {'whole numbers in ' if whole else ''}[{lo:g}, {hi:g}]"
        )


@dataclass(frozen=True)
class Profile:
    """A named scale of a sweep (``--profile NAME``, e.g. "cpu": small inputs and widths sized for 2 CPU
    cores). ``base`` is merged over the sweep's base; every other field given replaces the sweep's."""

    description: str = ""
    base: Mapping[str, Any] = field(default_factory=dict)
    space: Callable[[Any], dict | None] | None = None
    num_samples: int | None = None
    grace_period: int | None = None
    scheduler: str | None = None
    sampler: str | None = None
    grid: Mapping[str, tuple] | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    cover: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The SweepSpec fields this profile replaces (``base`` is merged instead)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "base"}
        return {k: v for k, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True)
class SweepSpec:
    """One sweep: everything ``run_sweep`` needs except where it runs."""

    name: str
    task: str
    base: Mapping[str, Any]
    # space(trial) -> dict of config keys; suggest_* calls are recorded by Optuna. Must be picklable by
    # reference (a module-level function or functools.partial of one): Tune pickles the searcher to resume.
    space: Callable[[Any], dict | None]
    # The one objective (docs/sweeps.md, "objective"): a validation metric ("auto": the task's default), its
    # direction ("": the metric's own) and how a trial's value is taken from its epochs (best | last).
    metric: str = "auto"
    mode: str = ""
    select: str = "best"
    # A second objective makes it a Pareto sweep (docs/sweeps.md, "Accuracy against cost"): a cost the engine
    # measures once per trial (facebench.pareto.COSTS), always minimised; "" is the one-objective sweep.
    second_objective: str = ""
    num_samples: int = 32
    scheduler: str = "asha"
    grace_period: int = 1  # epochs a trial runs before ASHA may stop it
    reduction_factor: int = 3
    sampler: str = "tpe"
    grid: Mapping[str, tuple] | None = None  # sampler "grid": the categorical values of each parameter
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractions (0.25) let several small trials share one GPU
    max_concurrent: int = 0  # 0: as many as the resources allow
    seed: int = 0  # TPE / grid sampler seed
    max_failures: int = 0  # Ray retries of a trial that raised (not of a diverged one)
    smoke: Mapping[str, Any] = field(default_factory=dict)  # config keys forced by --smoke
    smoke_num_samples: int = 4
    forced: Mapping[str, Any] = field(default_factory=dict)  # set by smoke_variant: wins over the space
    cover: bool = False  # set by smoke_variant: the first trials visit every categorical choice (cover.py)
    start_points: tuple = ()  # Optuna parameter values of the first trials (the runner fills it when cover)
    profiles: Mapping[str, Profile] = field(default_factory=dict)  # --profile NAME: a named scale (Profile)
    profile: str = ""  # the profile this spec was made with ("": the sweep's own scale)
    description: str = ""
    # The confirmation stage (docs/sweeps.md, "Confirmation"): a sweep may confirm its own top configurations when it
    # ends (confirm_top > 0, confirm_seeds new seeds each); two recipes are "equivalent" within +-equivalence_margin
    # (accuracy, 0.02 = 2 points; a CPU-scale sweep cannot resolve less).
    confirm_top: int = 0
    confirm_seeds: int = 5
    equivalence_margin: float = 0.02
    # A replayed sweep (facebench.sweep.replay.Replay): recorded curves instead of training, to measure the
    # orchestrator at scale (docs/scale.md). Labelled in sweep.json, summary.json and the report.
    replay: Any | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "sweep name")
        if self.task not in TASKS:
            raise ConfigError(f"sweep task: {self.task!r} is not allowed; choose one of: {', '.join(TASKS)}")
        self._check_objective()
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"sweep scheduler {self.scheduler!r}: choose one of: {', '.join(SCHEDULERS)}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sweep sampler {self.sampler!r}: choose one of: {', '.join(SAMPLERS)}")
        if self.sampler == "grid" and not self.grid:
            raise ConfigError("sweep sampler 'grid' needs grid={param: (values, ...)}")
        for key, (lo, hi) in SPEC_RANGES.items():
            _check_range(key, getattr(self, key), lo, hi)
        if self.gpus_per_trial > 1 and not float(self.gpus_per_trial).is_integer():
            raise ConfigError(f"gpus_per_trial {self.gpus_per_trial}: above 1 it must be a whole number")
        for key, profile in self.profiles.items():
            if not isinstance(profile, Profile):
                raise ConfigError(
                    f"sweep {self.name!r} profile {key!r}: a facebench.sweep.Profile(...), not {type(profile).__name__}"
                )
        if self.replay is not None and not (hasattr(self.replay, "to_json") and self.replay.seconds_per_epoch >= 0):
            raise ConfigError("sweep replay: a facebench.sweep.replay.Replay(source=..., seconds_per_epoch >= 0)")
        if "task" in self.base and self.base["task"] != self.task:
            raise ConfigError(f"sweep base config task={self.base['task']!r} contradicts task {self.task!r}")

    def _check_objective(self) -> None:
        if self.metric.startswith("test_") or not (self.metric == "auto" or self.metric.startswith("val_")):
            raise ConfigError(
                f"sweep metric {self.metric!r}: the objective must be a validation metric "
                f"(auto, {', '.join(OBJECTIVE_MODES)}); test metrics are never used for selection"
            )
        try:
            metric, mode = objective_of(self.task, self.metric)
        except ConfigError:
            raise ConfigError(
                f"sweep metric {self.metric!r}: task {self.task!r} reports only: "
                f"{', '.join(('auto', *TASK_OBJECTIVES[self.task]))}"
            ) from None
        if self.mode not in ("", mode):
            raise ConfigError(f"sweep mode {self.mode!r}: {metric} is optimised with mode {mode!r} (or leave mode out)")
        if self.second_objective:
            check_cost(self.second_objective)
        if self.select not in SELECT_RULES:
            raise ConfigError(f"sweep select {self.select!r}: choose one of: {', '.join(SELECT_RULES)}")
        for key, ours in (("train.objective", self.metric), ("train.select", self.select)):
            if key in self.base and self.base[key] != ours:
                raise ConfigError(
                    f"sweep base config {key}={self.base[key]!r}: the objective is declared once, "
                    f"by the sweep's metric/select ({ours!r}); remove it from base"
                )

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, mode) after resolving "auto": what Optuna, Tune, the summary and the report all use."""
        return objective_of(self.task, self.metric)

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(reported key, mode) of every declared objective: Optuna's metrics and directions, in order."""
        pair = [(COST_KEY, "min")] if self.second_objective else []
        return [("objective", self.objective[1]), *pair]

    @property
    def epochs(self) -> int:
        return int(self.base.get("train.epochs", 10))

    def replace(self, **changes: Any) -> SweepSpec:
        return dataclasses.replace(self, **changes)

    def smoke_variant(self) -> SweepSpec:
        """Tiny data and models; the space is kept, the forced keys win over what it proposes."""
        base = {**self.base, **self.smoke}
        return self.replace(
            name=f"{self.name}-smoke",
            base=base,
            forced=dict(self.smoke),
            cover=True,
            num_samples=self.smoke_num_samples,
            grace_period=1,
            cpus_per_trial=1.0,
            gpus_per_trial=0.0,
            confirm_top=0,
        )

    def profile_variant(self, profile: str) -> SweepSpec:
        """The sweep at a named scale (``--profile``): its fields replaced, its base merged; named ``<name>-<profile>``
        so a profile's results never mix with another scale's under ``--resume``."""
        if profile not in self.profiles:
            raise ConfigError(
                f"--profile {profile!r}: sweep {self.name!r} has "
                + (f"profiles: {', '.join(self.profiles)}" if self.profiles else "no profiles")
            )
        chosen = self.profiles[profile]
        return self.replace(
            name=f"{self.name}-{profile}", base={**self.base, **chosen.base}, profile=profile, **chosen.changes()
        )

    def trial_config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The flat config of one trial: base, then the proposed parameters (Optuna aliases dropped)."""
        proposed = {k: v for k, v in params.items() if ALIAS_MARK not in k}
        return {
            "task": self.task,
            **self.base,
            **proposed,
            **self.forced,
            "train.objective": self.metric,
            "train.select": self.select,
        }

    def with_data_root(self, root: str) -> SweepSpec:
        """Fill the ``{data}`` placeholder of base config values with the data root (--data-root)."""
        base = {k: v.replace("{data}", root.rstrip("/")) if isinstance(v, str) else v for k, v in self.base.items()}
        return self.replace(base=base)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "base": dict(self.base),
            "space": describe_callable(self.space),
            "metric": self.objective[0],
            "mode": self.objective[1],
            "select": self.select,
            "num_samples": self.num_samples,
            "scheduler": self.scheduler,
            "grace_period": self.grace_period,
            "reduction_factor": self.reduction_factor,
            "sampler": self.sampler,
            "grid": {k: list(v) for k, v in (self.grid or {}).items()},
            "cpus_per_trial": self.cpus_per_trial,
            "gpus_per_trial": self.gpus_per_trial,
            "max_concurrent": self.max_concurrent,
            "seeds": [self.seed],
            "max_failures": self.max_failures,
            "smoke": dict(self.smoke),
            "profile": self.profile,
            "confirm_top": self.confirm_top,
            "confirm_seeds": self.confirm_seeds,
            "equivalence_margin": self.equivalence_margin,
            "profiles": sorted(self.profiles),
            "forced": dict(self.forced),
            "description": self.description,
            **({"second_objective": self.second_objective} if self.second_objective else {}),
            **({"replay": self.replay.to_json()} if self.replay is not None else {}),
        }


def describe_callable(fn: Callable) -> dict[str, Any]:
    if isinstance(fn, functools.partial):
        return {**describe_callable(fn.func), "kwargs": {k: _plain(v) for k, v in fn.keywords.items()}}
    if dataclasses.is_dataclass(fn) and not isinstance(fn, type):  # a space such as space.Margin(...)
        return {
            **describe_callable(type(fn)),
            "kwargs": {f.name: _plain(getattr(fn, f.name)) for f in dataclasses.fields(fn)},
        }
    return {"function": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"}


def _plain(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)


def load_sweep_file(path: str) -> SweepSpec:
    """The ``SPEC`` of a sweep file, imported as a module named after it (not as ``__main__``, so its
    ``if __name__ == "__main__"`` block does not run). What goes wrong in the file is one line naming it: a
    syntax error (with its line), an exception while importing it, ``sys.exit("why")``, no ``SPEC``; the
    cause stays chained for ``--debug``. FacebenchErrors (a bad SweepSpec field) keep their own message."""
    from ..errors import FacebenchError

    if not os.path.isfile(path):
        raise ConfigError(f"{path}: sweep file not found")
    name = "facebench_sweep_file_" + "".join(c if c.isalnum() else "_" for c in os.path.basename(path)[:-3])
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path))
    try:
        module.__spec__.loader.exec_module(module)
    except SyntaxError as e:
        raise ConfigError(
            f"{e.filename or path}:{e.lineno}: syntax error: {e.msg} (--debug shows the traceback)"
        ) from e
    except SystemExit as e:
        if isinstance(e.code, str):  # sys.exit("message"): the file's own one line
            raise ConfigError(f"{path}: {e.code}") from None
        raise
    except (FacebenchError, KeyboardInterrupt, MemoryError, OSError):
        raise
    except Exception as e:  # noqa: BLE001 - anything else the file's own code raised while it was imported
        text = " ".join(str(e).split()) or "(no message)"
        raise ConfigError(
            f"{path}: {type(e).__name__}: {text} (raised while importing the sweep file; --debug shows the traceback)"
        ) from e
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, SweepSpec):
        raise ConfigError(
            f"{path}: defines no SPEC = facebench.sweep.SweepSpec(...) (found "
            f"{type(spec).__name__ if spec is not None else 'none'}); a sweep file is a module that "
            "defines SPEC"
        )
    return spec
