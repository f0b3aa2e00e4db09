"""The page's figure sections, one function each: ``Inputs`` in, one ``Section`` out (facebench/report/section.py).

Each draws at most a handful of series (the top-k trials by validation rank), so a 1,000-trial sweep costs what a
10-trial one does; a figure that raises becomes a note and its section keeps the other figures.
"""

from __future__ import annotations

import dataclasses

from . import factorplots, history, plots, targets, vae
from .arrays import npz_loader
from .html import table
from .names import for_display
from .section import Inputs, Section, figure_section

RANKED_COLUMNS = (
    ("rank", "#"),
    ("sweep", "sweep"),
    ("trial_id", "trial"),
    ("name", "name"),
    ("task", "task"),
    ("status", "status"),
    ("cfg.model.backbone", "backbone"),
    ("cfg.loss.name", "loss"),
    ("cfg.schedule.name", "schedule"),
    ("seed", "seed"),
    ("objective", "objective"),
    ("objective_se", "± se (people)"),
    ("objective_ci95_lo", "95% CI from"),
    ("objective_ci95_hi", "to"),
    ("objective_pi95_lo", "new seed: 95% PI from"),
    ("objective_pi95_hi", "to"),
    ("tied_with_first", "tied with #1"),
    ("score", "test score"),
    ("test_accuracy_std", "test std"),
    ("test_auc", "AUC"),
    ("test_eer", "EER"),
    ("active_units", "active units"),
    ("flops", "FLOPs"),
    ("train_s", "train s"),
    ("epochs_run", "epochs"),
    ("reason", "reason"),
)


def ranked(i: Inputs) -> Section:
    """The ranked table (variants by their proper names) and the top trials' spread over the test folds."""
    figs = figure_section(
        i,
        ("ranked", "Ranked trials"),
        [("ranked trials", lambda n: plots.plot_ranked(i.ranked, i.frames["folds"]))],
        "no trials found in these folders",
    )
    html = table(for_display(i.ranked), RANKED_COLUMNS, sortable=True, row_class="status") if len(i.ranked) else ""
    return dataclasses.replace(figs, html=html)


def factors(i: Inputs) -> Section:
    return figure_section(
        i,
        ("factors", "Factors"),
        [
            ("factors", lambda n: factorplots.plot_factor_effects(i.ranked, i.frames["epochs"])),
            ("backbones against references", lambda n: targets.plot_families(i.ranked, i.options.references)),
        ],
        "no sweep with enough trials at a common epoch and a key that varies among them (the "
        "factor plots draw the data of the 'which hyperparameters matter' table)",
    )


def curves(i: Inputs) -> Section:
    return figure_section(
        i,
        ("curves", "Training curves"),
        [("training curves", lambda n: plots.plot_curves(i.ranked, i.frames["epochs"]))],
        "no per-epoch results recorded",
    )


def vae_section(i: Inputs) -> Section:
    epochs = i.frames["epochs"]
    return figure_section(
        i,
        ("vae", "VAE: loss components, rate–distortion, active units"),
        [
            ("VAE components", lambda n: vae.plot_vae_components(i.ranked, epochs)),
            ("rate-distortion", lambda n: vae.plot_rate_distortion(i.ranked, epochs)),
            ("VAE beta terms", lambda n: vae.plot_beta_terms(i.ranked, epochs)),
        ],
        "no VAE trials (loss vae): plain and denoising autoencoders have no KL term, no beta and no "
        "posterior to collapse",
    )


def roc(i: Inputs) -> Section:
    return figure_section(
        i,
        ("roc", "ROC and score distributions"),
        [
            ("ROC", lambda n: plots.plot_roc(i.ranked, i.frames["roc"])),
            ("score distributions", lambda n: plots.plot_distances(i.ranked, npz_loader(n))),
        ],
        "no completed verification trials (tasks face and autoencoder) with test pairs",
    )


def confusion(i: Inputs) -> Section:
    return figure_section(
        i,
        ("confusion", "Confusion matrices"),
        [("confusion", lambda n: plots.plot_confusion(i.ranked, i.frames["confusion"]))],
        "no completed classification trials (task cifar)",
    )


def reconstructions(i: Inputs) -> Section:
    return figure_section(
        i,
        ("recon", "Reconstructions"),
        [("reconstructions", lambda n: vae.plot_recon_grids(i.ranked, n))],
        "no completed autoencoder trials with a reconstruction grid",
    )


def sweep_history(i: Inputs) -> Section:
    """Optuna's history and parameter importances of every sweep with a study (with or without trials)."""
    sweeps = [s for s in i.data.sweeps if s.study is not None]
    try:
        figs, notes = history.plot_histories(sweeps, _effect_tables(i))
    except Exception as e:  # a damaged study must not lose the report
        figs, notes = [], [f"sweep history figures failed: {type(e).__name__}: {e}"]
    return Section(
        "history",
        "Sweep history",
        figures=tuple(figs),
        notes=tuple(notes),
        empty="no Optuna study (study.db) with complete trials in these folders",
    )


def _effect_tables(i: Inputs) -> dict:
    """Sweep -> its effects table, for the importance chart's caption (none when it cannot be computed)."""
    from .effects import common_epoch_effects

    try:
        return {sweep: rows for sweep, _, _, rows in common_epoch_effects(i.ranked, i.frames["epochs"])}
    except Exception:  # the effects section reports its own failure; the caption then says there is no table
        return {}


def pareto(i: Inputs) -> Section:
    return figure_section(
        i,
        ("pareto", "Accuracy against cost"),
        [("accuracy against cost", lambda n: plots.plot_pareto(i.ranked))],
        "no completed trials with a cost (FLOPs or training time) beside a test score",
    )
