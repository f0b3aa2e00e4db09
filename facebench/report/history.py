"""The sweep's own history from its Optuna study (``study.db``): optimisation history and parameter importances."""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import numpy as np

from .collect import SweepRecord
from .plots import Plot, figure, png, short


def load_studies(sweep: SweepRecord, notes: list[str]) -> list[Any]:
    """Every study in the sweep's SQLite file; a remote file is copied to a temporary local one first."""
    if sweep.study is None:
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    local = sweep.study.local_path()
    tmp = None
    try:
        if local is None:  # SQLite needs a local file
            fd, tmp = tempfile.mkstemp(suffix=".db")
            with os.fdopen(fd, "wb") as f:
                f.write(sweep.study.read_bytes())
            local = tmp
        fast = read_sqlite_studies(local)
        if fast is not None:
            return fast
        storage = f"sqlite:///{local}"
        names = optuna.study.get_all_study_names(storage=storage)
        studies = [optuna.load_study(study_name=n, storage=storage) for n in names]
        for s in studies:
            s.trials  # noqa: B018 - read them now, before a temporary copy is removed
        return studies
    except Exception as e:  # a damaged or foreign database must not lose the rest of the report
        notes.append(f"{sweep.study.uri}: cannot read the Optuna study ({type(e).__name__}: {e})")
        return []
    finally:
        if tmp:
            os.unlink(tmp)


TOTAL = "facebench_trials_in_study"  # read_sqlite_studies: how many trials the study holds, complete or not


def read_sqlite_studies(path: str) -> list[Any] | None:
    """The file's single-objective studies as in-memory Optuna studies of their complete trials (all the history
    plot and the importances read; the study's trial count in the user attribute ``TOTAL``), read with plain SQL
    from Optuna's tables (its ORM rebuilds each trial with a query per relation: seconds at 1,000 trials). None
    where the file is not that schema or holds a multi-objective study: the caller then reads it through Optuna."""
    import sqlite3

    import optuna
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    infinite = {"INF_POS": math.inf, "INF_NEG": -math.inf}
    try:
        out = []
        for sid, name in con.execute("SELECT study_id, study_name FROM studies ORDER BY study_id").fetchall():
            directions = con.execute("SELECT direction FROM study_directions WHERE study_id=?", (sid,)).fetchall()
            if len(directions) != 1:
                return None
            rows = con.execute("SELECT trial_id, state FROM trials WHERE study_id=? ORDER BY number", (sid,)).fetchall()
            total, rows = len(rows), [(tid, state) for tid, state in rows if state == "COMPLETE"]
            values = {
                tid: infinite.get(kind, value)
                for tid, value, kind in con.execute(
                    "SELECT v.trial_id, v.value, v.value_type FROM trial_values v JOIN trials t "
                    "ON v.trial_id = t.trial_id WHERE t.study_id=? AND v.objective=0",
                    (sid,),
                )
            }
            params: dict[int, dict] = {}
            for tid, pname, internal, dist_json in con.execute(
                "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p "
                "JOIN trials t ON p.trial_id = t.trial_id WHERE t.study_id=?",
                (sid,),
            ):
                dist = json_to_distribution(dist_json)
                params.setdefault(tid, {})[pname] = (dist.to_external_repr(internal), dist)
            study = optuna.create_study(study_name=name, direction=directions[0][0].lower())
            study.add_trials(
                optuna.trial.create_trial(
                    state=TrialState[state],
                    value=values.get(tid),
                    params={k: v for k, (v, _) in params.get(tid, {}).items()},
                    distributions={k: d for k, (_, d) in params.get(tid, {}).items()},
                )
                for tid, state in rows
            )
            study.set_user_attr(TOTAL, total)
            out.append(study)
        return out
    except (sqlite3.Error, KeyError, ValueError, TypeError):
        return None
    finally:
        con.close()


def plot_histories(sweeps: list[SweepRecord], effects: dict | None = None) -> tuple[list[Plot], list[str]]:
    """Figures and notes for every sweep's study; a top-level function so the report's helper process can run it.
    ``effects``: sweep name -> its "which hyperparameters matter" table (effects.py), which the importance chart's
    caption is compared with."""
    notes: list[str] = []
    figs = [p for s in sweeps for p in plot_history(s, notes, (effects or {}).get(s.name))]
    return figs, notes


def plot_history(sweep: SweepRecord, notes: list[str], effects: Any = None) -> list[Plot]:
    out = []
    for study in load_studies(sweep, notes):
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
        if not done:
            notes.append(f"sweep {sweep.name!r}: Optuna study {study.study_name!r} has no complete trials")
            continue
        out.append(_history_plot(sweep.name, study, done))
        imp = _importances(study, done, notes, sweep.name)
        # A parameter that never varied (or that the run forced, as --smoke forces the image size) explains
        # nothing: listed with a zero bar it only looks like a finding.
        forced = set((sweep.spec or {}).get("forced") or {})
        varying = {
            k
            for k in imp
            if len({repr(t.params.get(k)) for t in done if k in t.params}) > 1 and k.split("@")[0] not in forced
        }
        if len(varying) < len(imp):
            fixed = sorted(set(imp) - varying)
            notes.append(
                f"sweep {sweep.name!r}: parameter importances leave out {len(fixed)} parameter(s) that "
                f"never varied or that the run forced: {', '.join(fixed[:6])}{' …' if len(fixed) > 6 else ''}"
            )
        imp = {k: v for k, v in imp.items() if k in varying}
        if imp:
            out.append(_importance_plot(sweep.name, study.study_name, imp, effects))
    return out


def _history_plot(sweep: str, study: Any, done: list[Any]) -> Plot:
    num = np.array([t.number for t in done])
    val = np.array([t.value for t in done], dtype=float)
    maximize = study.direction.name == "MAXIMIZE"
    best = np.maximum.accumulate(val) if maximize else np.minimum.accumulate(val)
    fig, ax = figure(5.6, 3.2)
    ax = ax[0, 0]
    ax.scatter(num, val, s=12, alpha=0.6, label="trial")
    ax.step(num, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("Optuna trial number")
    ax.set_ylabel("objective (" + ("max" if maximize else "min") + ")")
    ax.legend(fontsize=7)
    return Plot(
        f"Optimisation history: {short(sweep)} / {short(study.study_name)}",
        png(fig),
        f"{len(done)} complete trials of {study.user_attrs.get(TOTAL, len(study.trials))}",
    )


def _importances(study: Any, done: list[Any], notes: list[str], sweep: str) -> dict[str, float]:
    seen: dict[str, set] = {}
    for t in done:
        for k in t.params:
            seen.setdefault(k, set())
    for t in done:  # each key's values over every complete trial (None where it has none): one pass, not n^2
        for k, values in seen.items():
            values.add(repr(t.params.get(k)))
    varying = {k for k, values in seen.items() if len(values) > 1}
    if len(done) < 2 or not varying:
        notes.append(f"sweep {sweep!r}: parameter importances need >= 2 complete trials with varying parameters")
        return {}
    import warnings

    try:
        import optuna.importance as importance

        with warnings.catch_warnings():
            # PED-ANOVA warns for every conditional parameter seen in < 2 trials: normal in a small sweep.
            warnings.simplefilter("ignore", UserWarning)
            return dict(importance.get_param_importances(study, evaluator=_evaluator()))
    except Exception as e:  # importance evaluators refuse some spaces (e.g. dynamic, single-valued params)
        notes.append(f"sweep {sweep!r}: parameter importances failed ({type(e).__name__}: {e})")
        return {}


def _evaluator() -> Any:
    # Named explicitly so the plot's label stays true if Optuna changes its default evaluator.
    import optuna.importance

    return optuna.importance.PedAnovaImportanceEvaluator()


def importance_figure(imp: dict[str, float]) -> Any:
    """Horizontal bars, the left margin sized to the longest label so no name is clipped."""
    names = list(imp)[:15][::-1]
    labels = [short(n.replace("@", " @"), 40) for n in names]
    width = 6.4
    label_in = 0.068 * max(len(lbl) for lbl in labels) + 0.25  # 8-pt sans: ~0.068 in per character
    fig, ax = figure(
        width, 0.3 * len(names) + 1.2, left=min(0.62, label_in / width), bottom=0.55 / (0.3 * len(names) + 1.2)
    )
    ax = ax[0, 0]
    ax.barh(labels, [imp[n] for n in names])
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("importance (Optuna PED-ANOVA)")
    return fig


def _importance_plot(sweep: str, study_name: str, imp: dict[str, float], effects: Any = None) -> Plot:
    return Plot(
        f"Parameter importances (descriptive): {short(sweep)} / {short(study_name)}",
        png(importance_figure(imp)),
        "Descriptive, not a test: optuna.importance.get_param_importances over "
        "the completed trials Optuna chose (parameters that never varied are left out). " + disagreement(imp, effects),
    )


IMPORTANT = 0.2  # an importance share at which the chart reads as "this matters"


def disagreement(imp: dict[str, float], effects: Any) -> str:
    """One sentence: where Optuna's importances and the effects table (Holm-adjusted joint model) disagree."""
    if effects is None or len(effects) == 0:
        return "The 'which hyperparameters matter' table has no joint model for this sweep to compare with."
    table = {r["key"]: r for _, r in effects.iterrows()}
    found = []
    for param, share in sorted(imp.items(), key=lambda kv: -kv[1]):
        key = param.split("@")[0]
        row = table.get(key)
        significant = row is not None and np.isfinite(row["p_holm"]) and row["p_holm"] < 0.05
        if share >= IMPORTANT and not significant:
            why = (
                "aliased with " + str(row["aliased_with"])
                if row is not None and row["aliased_with"]
                else f"p (Holm) {row['p_holm']:.2g}"
                if row is not None and np.isfinite(row["p_holm"])
                else "not tested"
            )
            found.append(f"{key} (importance {share:.2f}) is not significant in the table ({why})")
        elif share < IMPORTANT and significant:
            found.append(f"{key} (importance {share:.2f}) is significant in the table (p (Holm) {row['p_holm']:.2g})")
    if not found:
        return "It agrees with the table: the parameters it ranks high are the ones the table finds significant."
    return "Where it disagrees with the table, read the table: " + "; ".join(found) + "."
