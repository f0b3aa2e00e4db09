"""The confirmation stage: re-run the sweep's top configurations with new seeds and say which recipe really wins.

A sweep picks its best trial on validation, once per configuration: the winner's margin is partly luck (the
winner's curse) and says nothing of seed-to-seed spread. ``run_confirmation`` takes the top-K completed trials
of a finished sweep folder by the sweep's own objective (or the best trial of each level of a factor, ``per``
= ``loss.name``), re-runs each configuration with S seeds no trial of the sweep used, as Ray trials in the
same ``trials/`` folder (confirm_stage.py), and compares the recipes on the test pairs with facebench.eval.confirmation. The
recipe every other is compared against is the one with the best mean validation objective over its new seeds:
nothing here is chosen on test. The result is the ``confirmation`` list of ``summary.json`` that the report's
headline table shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artefacts import COMPLETED, SweepDir, TrialDir
from ..errors import ConfigError
from .confirm_stage import rerun
from .session import LOCAL, Placement

DEFAULT_MARGIN = 0.02  # equivalence margin (accuracy, 0-1) when the sweep declares none: +-2 points
# Keys that tell runs of one recipe apart, or only say where it ran: never part of a recipe.
NOT_RECIPE = ("name", "train.seed", "train.threads", "train.device", "data.cache_dir")


@dataclass
class Recipe:
    label: str
    source_trial: str
    config: dict[str, Any]  # the source trial's flat config without NOT_RECIPE keys
    sweep_objective: float | None


def load_finished(sweep_dir: str | os.PathLike) -> dict:
    """The sweep's summary.json; a folder without one, or without a completed trial, is a ConfigError."""
    sweep = SweepDir(sweep_dir)
    sweep.read_spec()  # a layout newer than this facebench reads is refused here
    summary = sweep.read_summary()
    if summary is None or not isinstance(summary.get("trials"), list):
        raise ConfigError(f"{sweep.summary_file}: missing or unreadable: not the folder of a finished sweep")
    if not _completed(summary):
        raise ConfigError(
            f"{sweep_dir}: no completed trial to confirm (the sweep's trials: "
            f"{', '.join(f'{n} {s}' for s, n in summary.get('counts', {}).items()) or 'none'})"
        )
    return summary


def _completed(summary: dict) -> list[dict]:
    confirming = {t for c in summary.get("confirmation") or [] for t in c.get("trial_ids", [])}
    confirming |= {r.get("trial_id") for r in (summary.get("calibration") or {}).get("runs") or []}
    return [r for r in summary["trials"] if r.get("status") == COMPLETED and r["trial_id"] not in confirming]


def pick_recipes(
    summary: dict, *, top: int, per: str | None = None, front: bool = False
) -> tuple[list[Recipe], list[str]]:
    """The top-``top`` completed trials (summary order = the objective's ranking), or with ``per`` the first
    trial of each level of that config key, or with ``front`` every member of a Pareto sweep's front (``top`` and
    ``per`` then ignored); returns (recipes, notes for the user)."""
    if front:
        return _front_recipes(summary)
    if top < 1:
        raise ConfigError(f"--top {top}: confirm at least 1 configuration")
    rows = _completed(summary)
    configs = {r["trial_id"]: TrialDir(r["trial_dir"]).read_config() for r in rows}
    notes = []
    if per is not None:
        keys = sorted({k for c in configs.values() for k in c} - set(NOT_RECIPE))
        if per not in keys:
            varying = [k for k in keys if len({repr(c.get(k)) for c in configs.values()}) > 1] or keys
            raise ConfigError(
                f"--per {per!r}: not a config key of this sweep's trials; choose one of the keys "
                f"that vary: {', '.join(varying)}"
            )
        first: dict[str, dict] = {}
        for r in rows:
            first.setdefault(repr(configs[r["trial_id"]].get(per)), r)
        rows = list(first.values())
    what = f"levels of {per}" if per else "completed trials"
    if top > len(rows):
        notes.append(f"--top {top}, but the sweep has {len(rows)} {what}: confirming all {len(rows)}")
    rows = rows[:top]
    return recipes_of(rows, per, configs), notes


def _front_recipes(summary: dict) -> tuple[list[Recipe], list[str]]:
    """Every member of summary.json's ``pareto_front`` (cheapest first), each a recipe to re-run over seeds."""
    if "pareto_front" not in summary:
        raise ConfigError(
            f"--front: sweep {summary.get('name')!r} declared one objective, so it has no Pareto "
            "front; run it with --second-objective NAME, or confirm its --top K"
        )
    done = {r["trial_id"]: r for r in _completed(summary)}
    rows = [done[f["trial_id"]] for f in summary["pareto_front"] if f.get("trial_id") in done]
    if not rows:
        raise ConfigError(f"--front: the Pareto front of sweep {summary.get('name')!r} names no completed trial")
    return recipes_of(rows), [f"confirming the {len(rows)} member(s) of the Pareto front"]


def recipes_of(rows: list[dict], per: str | None = None, configs: dict[str, dict] | None = None) -> list[Recipe]:
    """One recipe per summary row: its trial's config (``configs``, or read from its folder) without the
    NOT_RECIPE keys, labelled by the choices that differ between them."""
    recipes = []
    for r in rows:
        config = configs[r["trial_id"]] if configs is not None else TrialDir(r["trial_dir"]).read_config()
        recipes.append(
            Recipe("", r["trial_id"], {k: v for k, v in config.items() if k not in NOT_RECIPE}, r.get("objective"))
        )
    _label(recipes, per)
    return recipes


def _label(recipes: list[Recipe], per: str | None) -> None:
    """Plain names: the level of ``per``, else the named choices that differ between the recipes ("ArcFace
    ResNet-18"; numbers only when no named choice differs), with the sweep rank where names coincide."""
    varying = sorted(
        k for k in {k for r in recipes for k in r.config} if len({repr(r.config.get(k)) for r in recipes}) > 1
    )
    named = [k for k in varying if any(isinstance(r.config.get(k), str) for r in recipes)]
    keys = [per] if per else sorted(named, key=lambda k: (not k.startswith("loss."), k)) or varying[:3]
    for r in recipes:
        parts = [_pretty(k, r.config.get(k)) for k in keys]
        r.label = " ".join(parts) if parts else f"trial {r.source_trial}"
    seen: dict[str, int] = {}
    for r in recipes:
        seen[r.label] = seen.get(r.label, 0) + 1
    for i, r in enumerate(recipes, 1):
        if seen[r.label] > 1:
            r.label = f"{r.label} (#{i})"


def _pretty(key: str, value: Any) -> str:
    from ..registry import display_name

    shown = display_name(key, value)
    if shown is not None:
        return shown
    short = key.split(".")[-1] if not key.endswith(".name") else key.split(".")[0]
    return f"{short} {value:.3g}" if isinstance(value, float) else f"{short} {value}"


def new_seeds(summary: dict, n: int) -> list[int]:
    """``n`` seeds that no trial of the sweep (confirmation runs included) has used."""
    if n < 1:
        raise ConfigError(f"--seeds {n}: run at least 1 seed per configuration")
    used = set()
    for r in summary["trials"]:
        used.add(TrialDir(r["trial_dir"]).read_config().get("train.seed", 0))
    for c in summary.get("confirmation") or []:
        used.update(c.get("seeds", []))
    used.update(r.get("seed") for r in (summary.get("calibration") or {}).get("runs") or [])
    start = max([s for s in used if isinstance(s, int)], default=0) + 1
    return list(range(start, start + n))


@dataclass(frozen=True)
class Choice:
    """What to confirm: the top ``top`` configurations (or the best of each level of ``per``, or a Pareto sweep's
    ``front``), ``seeds`` new seeds each; ``margin``: the equivalence margin (None: the sweep's declared
    ``equivalence_margin``, else DEFAULT_MARGIN)."""

    top: int
    seeds: int
    per: str | None = None
    front: bool = False
    margin: float | None = None


def run_confirmation(
    sweep_dir: str | os.PathLike,
    choice: Choice,
    *,
    placement: Placement = LOCAL,
    verbose: int = 0,
    allow_version_change: bool = False,
) -> list[dict]:
    """Run the stage on a finished sweep folder; the ``confirmation`` list is written into its summary.json.
    ``placement``: where the re-runs go (its address; the sweep's own resources per trial); ``verbose``: 0
    nothing, 1 the one progress line, 2 Ray's table."""
    from .lock import driver_lock
    from .version import check_version

    sweep = SweepDir(Path(sweep_dir).absolute())
    load_finished(sweep.path)  # not a finished sweep: refused before the lock is taken (nothing is created)
    with driver_lock(sweep.path, what="confirm"):  # one driver per sweep folder: a sweep or a confirmation
        check_version(sweep, allow=allow_version_change, what="confirm")  # it may write sweep.json: under the lock
        return _confirm(sweep, choice, placement=placement, verbose=verbose)


def _confirm(sweep: SweepDir, choice: Choice, *, placement: Placement, verbose: int) -> list[dict]:
    summary = load_finished(sweep.path)
    recipes, notes = pick_recipes(summary, top=choice.top, per=choice.per, front=choice.front)
    seed_list = new_seeds(summary, choice.seeds)
    for note in notes:
        print(f"facebench confirm: {note}")
    print(
        f"facebench confirm: {len(recipes)} configuration(s) x {len(seed_list)} new seed(s) {seed_list}: "
        + "; ".join(r.label for r in recipes)
    )
    runs = rerun(sweep, summary, recipes, seed_list, placement=placement, verbose=verbose)
    margin = choice.margin
    if margin is None:
        margin = float((sweep.read_spec() or {}).get("equivalence_margin", DEFAULT_MARGIN))
    confirmation = summarize_confirmation(recipes, runs, mode=summary.get("mode", "max"), margin=margin)
    summary["confirmation"] = confirmation
    sweep.write_summary(summary)
    for c in confirmation:
        print(f"facebench confirm: {c['verdict_line']}")
    return confirmation


def summarize_confirmation(
    recipes: list[Recipe], runs: list[list[dict]], *, mode: str, margin: float = DEFAULT_MARGIN
) -> list[dict]:
    """One entry per recipe, the reference (best mean validation objective over the new seeds, never test) first:
    every seed's validation objective and test accuracy, the test accuracy's 95% interval over seeds and folds, and
    against the reference the paired difference, its interval, the Holm-adjusted p and a verdict (TOST against
    ``margin``, facebench.eval.confirmation)."""
    import math

    from ..eval import confirmation as stats

    done = [[r for r in rs if r["status"] == COMPLETED] for rs in runs]
    objective = [_mean([r["metrics"].get("objective") for r in rs]) for rs in done]
    sign = -1.0 if mode == "max" else 1.0
    order = sorted(range(len(recipes)), key=lambda i: (math.isnan(objective[i]), sign * objective[i], i))
    best = order[0]
    paired = _paired_runs(done)
    entries = [
        _entry(recipes[i], runs[i], done[i], objective[i], paired[i] if paired else None, i == best) for i in order
    ]
    vs = [
        stats.compare_to_reference(paired[i], paired[best], margin=margin) if i != best and paired else None
        for i in order
    ]
    adjusted = stats.holm([v.p if v is not None else math.nan for v in vs])
    for e, v, p in zip(entries, vs, adjusted):
        if v is not None:
            v.p_adjusted = p
        e["vs_best"] = v.to_json() if v is not None else None
        e["verdict"], e["verdict_line"] = _verdicts(e, entries[0], v, paired is not None)
    return entries


def _entry(
    recipe: Recipe, runs: list[dict], done: list[dict], objective: float, paired: list | None, best: bool
) -> dict:
    from ..eval import confirmation as stats

    acc = [_test_accuracy(r["metrics"]) for r in done]
    if paired:
        interval = stats.accuracy_interval(paired)
    else:  # no per-item decisions: the t-interval over seeds only
        mean, lo, hi = stats.seed_interval([a for a in acc if a is not None])
        interval = {"mean": mean, "ci95": [max(lo, 0.0), min(hi, 1.0)], "ci_method": stats.T_METHOD}
    return {
        "recipe": recipe.label,
        "source_trial": recipe.source_trial,
        "source_trial_ids": [recipe.source_trial],
        "sweep_objective": recipe.sweep_objective,
        "best": best,
        "reference": best,
        "trial_ids": [r["trial_id"] for r in runs],
        "seeds": [r["seed"] for r in done],
        "failed": [r["trial_id"] for r in runs if r["status"] != COMPLETED],
        "per_seed": [
            {"seed": r["seed"], "objective": r["metrics"].get("objective"), "test_accuracy": a}
            for r, a in zip(done, acc)
        ],
        "objective_mean": objective,
        "test_accuracy": acc,
        "test_accuracy_mean": interval["mean"],
        "ci95": interval["ci95"],
        "ci_method": interval["ci_method"],
    }  # an accuracy stays in [0, 1]


def _verdicts(e: dict, reference: dict, v: Any, paired: bool) -> tuple[str, str]:
    """(the verdict, the line the console and the report print) of one entry against the reference."""
    from ..eval import confirmation as stats

    if e["best"]:
        return "reference", (
            f"{e['recipe']}: the reference (best mean validation objective over {len(e['seeds'])} seeds)"
        )
    if not paired:
        text = "no paired test (needs per-item decisions on the same test items: verification.npz or predictions.npz)"
    elif v is None:
        text = "not compared: no completed seed in common with the reference"
    else:
        text = stats.verdict(v)
    if v is not None:
        return text, stats.comparison_line(e["recipe"], reference["recipe"], v)
    return text, f"{e['recipe']} against {reference['recipe']}: {text}"


def _mean(values: list) -> float:
    v = [float(x) for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return sum(v) / len(v) if v else float("nan")


def _test_accuracy(metrics: dict) -> float | None:
    value = metrics.get("test_accuracy_mean", metrics.get("test_accuracy"))
    return float(value) if isinstance(value, (int, float)) else None


def _paired_runs(done: list[list[dict]]) -> list[list] | None:
    """Per recipe, its runs as per-item correctness on the same test items: the verification pairs (faces), or the
    test images (cifar, ``predictions.npz``, in 10 interleaved folds for the bootstrap, eval.confirmation.image_folds); None when a run lacks the
    artefact or the runs were not tested on the same items."""
    import numpy as np

    from ..errors import DataError
    from ..eval.confirmation import Run

    out, ref = [], None
    try:
        for rs in done:
            runs = []
            for r in rs:
                key, correct, fold = _decisions(Path(r["trial_dir"]) / "artefacts")
                ref = ref if ref is not None else key
                if len(key) != len(ref) or not all(np.array_equal(a, b) for a, b in zip(key, ref)):
                    return None
                runs.append(Run(seed=r["seed"], correct=correct, fold=fold))
            out.append(runs)
    except DataError:
        return None
    return out


def _decisions(artefacts_dir: Path) -> tuple[tuple, Any, Any]:
    """(what identifies the test items, correct per item, fold per item) of one run."""
    import numpy as np

    from ..artefacts import PREDICTIONS_NPZ, VERIFICATION_NPZ, load_npz, read_verification_npz
    from ..errors import DataError
    from ..eval.compare import correct_decisions
    from ..eval.confirmation import image_folds

    path = artefacts_dir / PREDICTIONS_NPZ
    if path.is_file():
        p = load_npz(path, name=str(path))
        if {"label", "pred"} - set(p) or p["label"].shape != p["pred"].shape:
            raise DataError(f"{path}: expected arrays label and pred of one shape")
        label, pred = np.asarray(p["label"]), np.asarray(p["pred"])
        fold = image_folds(len(label))
        return (label,), pred == label, fold
    a = read_verification_npz(artefacts_dir / VERIFICATION_NPZ)
    return (np.asarray(a["same"]), np.asarray(a["fold"])), correct_decisions(a), np.asarray(a["fold"])
