"""Optuna's TPE with the history split once per proposal instead of once per parameter (docs/scale.md).

``optuna.samplers.TPESampler`` proposes each parameter of a trial on its own (the ones every trial has together,
then each conditional one), and for each it sorts the whole history into its best ("below") and other ("above")
trials again: at 1,000 trials that repeated split is about half of a proposal's time. Within one proposal the
history does not change (one driver thread asks, nothing is told meanwhile), so the split is the same every time;
this sampler computes it once per proposal and reuses it, keyed by the trial being proposed and every history
trial's number and state, so any change in between computes it afresh.

Nothing else differs: same settings (Optuna's defaults: multivariate TPE with the constant liar for trials still
running), same random stream, the same proposals for the same seed and history; tests/test_sampler.py checks that
against Optuna's own sampler. ``_sample`` follows Optuna's (5.x) line for line but for the cached split, and the
check fails loudly if a future Optuna changes it.
"""

from __future__ import annotations

from typing import Any

from optuna.samplers import TPESampler
from optuna.samplers._tpe import sampler as _tpe
from optuna.trial import TrialState


class SplitOnceTPESampler(TPESampler):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._split: tuple[tuple, tuple[list, list]] | None = None

    def _split_once(self, study: Any, trial: Any, trials: list, n_below: int) -> tuple[list, list]:
        key = (id(study), trial.number, n_below, tuple((t.number, t.state) for t in trials))
        if self._split is None or self._split[0] != key:
            self._split = (key, _tpe._split_trials(study, trials, n_below))
        return self._split[1]

    def _sample(self, study: Any, trial: Any, search_space: dict) -> dict[str, Any]:
        if self._constant_liar:
            states = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING]
        else:
            states = [TrialState.COMPLETE, TrialState.PRUNED]
        use_cache = not self._constant_liar
        trials = study._get_trials(deepcopy=False, states=states, use_cache=use_cache)
        if self._constant_liar:
            trials = [t for t in trials if trial.number != t.number]
        if self._gamma is None:
            self._gamma = _tpe.default_gamma if len(study.directions) <= 1 else _tpe.default_gamma_multiobjective
        n = sum(t.state != TrialState.RUNNING for t in trials)
        below_trials, above_trials = self._split_once(study, trial, trials, self._gamma(n))
        mpe_below = self._build_parzen_estimator(study, search_space, below_trials, handle_below=True)
        mpe_above = self._build_parzen_estimator(study, search_space, above_trials, handle_below=False)
        samples_below = mpe_below.sample(self._rng.rng, self._n_ei_candidates)
        acq_func_vals = self._compute_acquisition_func(samples_below, mpe_below, mpe_above)
        ret = TPESampler._compare(samples_below, acq_func_vals)
        for param_name, dist in search_space.items():
            ret[param_name] = dist.to_external_repr(ret[param_name])
        return ret


def tpe_sampler(seed: int | None = None) -> TPESampler:
    """The sweep's TPE sampler: Optuna's defaults, the history split once per proposal."""
    return SplitOnceTPESampler(seed=seed)
