"""Which hyperparameters matter (facebench/report/effects.py, anova.py): every trial judged at the last epoch all
reached, all factors in one model (known answers against statsmodels' own OLS / type-II ANOVA and multipletests),
aliased keys named and given no effect, a loss's own keys analysed per loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.multitest import multipletests

from facebench.report.anova import aliases, canonical_r, design
from facebench.report.effects import common_epoch_effects, effects_html

N = 16


def _sweep():
    """16 trials: backbone and width travel together (aliased), lr spans two decades, loss arcface / cosface with
    their own margin; the objective at epoch 2 (the last one every trial reached) depends on backbone and lr."""
    rng = np.random.default_rng(0)
    ids = [f"t{i}" for i in range(N)]
    backbone = np.array(["cnn", "resnet18"] * (N // 2))
    lr = 10 ** rng.uniform(-4, -2, N)
    loss = np.array(["arcface"] * 4 + ["cosface"] * 4 + ["arcface"] * 4 + ["cosface"] * 4)
    margin = np.round(rng.uniform(0.1, 0.5, N), 3)
    val2 = 0.6 + 0.1 * (backbone == "resnet18") - 0.05 * np.log10(lr) / 2 + rng.normal(0, 0.01, N)
    ranked = pd.DataFrame(
        {
            "sweep": "s",
            "trial_id": ids,
            "stage": "sweep",
            "objective_metric": "val_accuracy",
            "cfg.optim.lr": lr,
            "cfg.loss.name": loss,
            "cfg.model.backbone": backbone,
            "cfg.model.width": np.where(backbone == "cnn", 0.25, 0.5),
            "cfg.loss.margin": margin,
            "cfg.train.threads": 1,
            "cfg.train.seed": range(N),
        }
    )
    rows = [
        {"sweep": "s", "trial_id": t, "epoch": e, "val_accuracy": v - 0.1 * (2 - e)}
        for t, v in zip(ids, val2)
        for e in (1, 2)
    ]
    rows += [{"sweep": "s", "trial_id": t, "epoch": 3, "val_accuracy": 0.9} for t in ids[1:]]
    return ranked, pd.DataFrame(rows), val2


def test_joint_model_known_answer_against_statsmodels():
    ranked, epochs, val2 = _sweep()
    ((sweep, at, n, rows),) = common_epoch_effects(ranked, epochs)
    assert (sweep, at, n) == ("s", 2, N)
    everyone = rows[rows["scope"] == "all trials"].set_index("key")
    frame = pd.DataFrame(
        {
            "y": val2,
            "b": ranked["cfg.model.backbone"],
            "l": ranked["cfg.loss.name"],
            "lr": np.log10(ranked["cfg.optim.lr"]) - np.log10(ranked["cfg.optim.lr"]).mean(),
        }
    )
    table = anova_lm(smf.ols("y ~ C(b) + C(l) + lr", data=frame).fit(), typ=2)
    assert abs(everyone.loc["model.backbone", "F"] - table.loc["C(b)", "F"]) < 1e-8 * table.loc["C(b)", "F"]
    assert abs(everyone.loc["optim.lr", "p"] - table.loc["lr", "PR(>F)"]) < 1e-12
    assert abs(everyone.loc["loss.name", "p"] - table.loc["C(l)", "PR(>F)"]) < 1e-12
    assert everyone.loc["loss.name", "df"] == table.loc["C(l)", "df"] and everyone.loc["optim.lr", "df"] == 1
    assert everyone.loc["optim.lr", "term"] == "linear in log10"
    tested = rows["p"].notna()
    assert np.allclose(rows.loc[tested, "p_holm"], multipletests(rows.loc[tested, "p"], method="holm")[1])
    assert not {"train.threads", "train.seed"} & set(rows["key"])


def test_an_aliased_key_is_named_and_gets_no_effect():
    ranked, epochs, _ = _sweep()
    ((_, _, _, rows),) = common_epoch_effects(ranked, epochs)
    width = rows[rows["key"] == "model.width"].iloc[0]
    assert width["aliased_with"] == "cfg.model.backbone" and np.isnan(width["p"]) and np.isnan(width["F"])
    # near-perfect too: one trial off the pattern is still aliased at r >= 0.95; an independent key is not
    x = pd.DataFrame({"a": ["u", "v"] * 20, "b": [0.25, 0.5] * 20, "c": np.arange(40.0) % 7})
    x.loc[0, "b"] = 0.5
    kept, aliased = aliases(x, ["a", "b", "c"])
    assert aliased == {"b": "a"} and kept == ["a", "c"]
    assert canonical_r(design(x["a"])[0], design(x["c"])[0]) < 0.5


def test_loss_keys_are_analysed_per_loss():
    ranked, epochs, _ = _sweep()
    ((_, _, _, rows),) = common_epoch_effects(ranked, epochs)
    margin = rows[rows["key"] == "loss.margin"]
    assert set(margin["scope"]) == {"loss.name = arcface", "loss.name = cosface"}
    assert (margin["n"] == 8).all()


def test_confirmation_runs_are_left_out_and_page_has_the_table():
    ranked, epochs, _ = _sweep()
    extra = ranked.iloc[[0]].assign(trial_id="c0", stage="confirmation", **{"cfg.optim.lr": 1.0})
    epochs = pd.concat([epochs, pd.DataFrame([{"sweep": "s", "trial_id": "c0", "epoch": 1, "val_accuracy": 0.1}])])
    ((_, at, n, _),) = common_epoch_effects(pd.concat([ranked, extra]), epochs)
    assert (at, n) == (2, N)
    page = effects_html(ranked, epochs)
    assert f"Which hyperparameters matter: s, all {N} trials at epoch 2" in page and "aliased with" in page


def test_too_few_trials_says_nothing():
    ranked, epochs, _ = _sweep()
    keep = ranked["trial_id"].isin(["t0", "t1", "t2"])
    assert common_epoch_effects(ranked[keep], epochs) == []
