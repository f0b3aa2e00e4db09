"""Which hyperparameters matter (facebench/report/effects.py): every trial judged at the last epoch all reached;
known answers against scipy's own tests, the key a variant does not read left out of its trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from facebench.report.effects import common_epoch_effects, effects_html


def _sweep():
    ids = [f"t{i}" for i in range(8)]
    lr = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2]
    fam = ["vae", "ae", "vae", "ae", "vae", "ae", "vae", "ae"]
    ranked = pd.DataFrame({"sweep": "s", "trial_id": ids, "stage": "sweep", "objective_metric": "val_accuracy",
                           "cfg.optim.lr": lr, "cfg.loss.name": fam, "cfg.model.backbone": fam,
                           "cfg.loss.beta": [0.1, 1.0, 0.5, 1.0, 2.0, 1.0, 4.0, 1.0], "cfg.train.threads": 1,
                           "cfg.train.seed": [0, 1, 2, 3, 4, 5, 6, 7]})
    # epoch 2 is the last epoch every trial reached (t0 stopped there); the value falls with the LR
    val2 = [0.80, 0.71, 0.74, 0.65, 0.66, 0.62, 0.60, 0.50]
    rows = [{"sweep": "s", "trial_id": t, "epoch": e, "val_accuracy": v - 0.1 * (2 - e)}
            for t, v in zip(ids, val2) for e in (1, 2)]
    rows += [{"sweep": "s", "trial_id": t, "epoch": 3, "val_accuracy": 0.9} for t in ids[1:]]
    return ranked, pd.DataFrame(rows), np.array(val2)


def test_known_answers_at_the_common_epoch():
    ranked, epochs, val2 = _sweep()
    ((sweep, at, n, rows),) = common_epoch_effects(ranked, epochs)
    assert (sweep, at, n) == ("s", 2, 8)
    by = rows.set_index("key")
    rho, p = stats.spearmanr(ranked["cfg.optim.lr"], val2)
    assert by.loc["optim.lr", "test"] == "Spearman rho"
    assert by.loc["optim.lr", "statistic"] == rho and by.loc["optim.lr", "p"] == p
    vae = val2[[0, 2, 4, 6]]
    h, p = stats.kruskal(vae, val2[[1, 3, 5, 7]])
    assert by.loc["model.backbone", "statistic"] == h and by.loc["model.backbone", "p"] == p
    assert by.loc["model.backbone", "levels"] == f"vae: {vae.mean():.3f}, ae: {val2[[1, 3, 5, 7]].mean():.3f}"
    # beta is read only by the VAE: tested on its 4 trials, which is fewer than the minimum of 6
    assert "loss.beta" not in by.index
    assert not {"train.threads", "train.seed"} & set(by.index)
    assert list(rows["p"]) == sorted(rows["p"])


def test_confirmation_runs_are_left_out_and_page_has_the_table():
    ranked, epochs, _ = _sweep()
    extra = ranked.iloc[[0]].assign(trial_id="c0", stage="confirmation", **{"cfg.optim.lr": 1.0})
    epochs = pd.concat([epochs, pd.DataFrame([{"sweep": "s", "trial_id": "c0", "epoch": 1, "val_accuracy": 0.1}])])
    ((_, at, n, _),) = common_epoch_effects(pd.concat([ranked, extra]), epochs)
    assert (at, n) == (2, 8)
    page = effects_html(ranked, epochs)
    assert "Which hyperparameters matter: s, all 8 trials at epoch 2" in page and "optim.lr" in page


def test_too_few_trials_says_nothing():
    ranked, epochs, _ = _sweep()
    keep = ranked["trial_id"].isin(["t0", "t1", "t2"])
    assert common_epoch_effects(ranked[keep], epochs) == []
