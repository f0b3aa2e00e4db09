"""The first report a user sees does not mislead, and the factor plots and importance chart say what
the effects table says."""

from __future__ import annotations

import argparse
import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_ends_with_a_verdict_on_folds_that_can_leave_chance():
    from facebench.config import TrialConfig
    from facebench.data.build import _synthetic_test

    spec = runpy.run_path(str(ROOT / "sweeps" / "demo.py"))["SPEC"]
    assert spec.confirm_top == 2 and spec.confirm_seeds >= 5 and spec.equivalence_margin == 0.02
    assert spec.smoke_variant().confirm_top == 0  # the test suite's smoke stays seconds
    cfg = TrialConfig.from_dict({"task": "face", **spec.base})
    _, pairs, _ = _synthetic_test(cfg)
    assert np.bincount(pairs.fold).min() >= 300 and len(np.unique(pairs.fold)) == 10
    default = TrialConfig.from_dict({"task": "face", "data.train": "synthetic"})
    assert np.bincount(_synthetic_test(default)[1].fold).tolist() == [60] * 10  # other synthetic runs unchanged


def test_confirm_defaults_to_five_seeds_and_takes_a_margin():
    from facebench.sweep.confirm_cli import add_confirm_parser

    parser = argparse.ArgumentParser()
    add_confirm_parser(parser.add_subparsers())
    args = parser.parse_args(["confirm", "runs/demo"])
    assert args.seeds is None and args.margin is None  # None: DEFAULT_SEEDS (5) and the sweep's margin
    from facebench.sweep.cli import DEFAULT_SEEDS

    assert DEFAULT_SEEDS == 5 and parser.parse_args(["confirm", "x", "--margin", "0.01"]).margin == 0.01


def test_train_flags_a_tar_the_pairs_cannot_resolve(tmp_path, capsys):
    from facebench.engine.cli import _print_result

    (tmp_path / "artefacts").mkdir()
    (tmp_path / "artefacts" / "verification.json").write_text(
        json.dumps({"tar_at_far": [{"far": 0.001, "unresolved": True}, {"far": 0.1, "unresolved": False}]})
    )
    _print_result(
        {
            "trial_dir": str(tmp_path),
            "status": "completed",
            "metrics": {"test_tar_far_1e-3": 0.2, "test_tar_far_1e-1": 0.6, "test_accuracy_mean": 0.8},
        }
    )
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")}
    assert "unresolved" in lines["test_tar_far_1e-3"]
    assert "unresolved" not in lines["test_tar_far_1e-1"] and "unresolved" not in lines["test_accuracy_mean"]


def test_single_seed_comparison_is_exploratory_without_p_values():
    from facebench.report.statistics import EXPLORATORY_COLUMNS

    shown = {c for c, _ in EXPLORATORY_COLUMNS} | {h for _, h in EXPLORATORY_COLUMNS}
    assert not any("p" == c or "mcnemar" in c or "ci_" in c for c in shown)


def test_factor_plots_draw_the_tables_data_with_confirmation_apart():
    from test_report_effects import _sweep

    from facebench.report.effects import common_epoch_effects
    from facebench.report.factorplots import factor_data, plot_factor_effects

    ranked, epochs, val2 = _sweep()
    extra = ranked.iloc[[0]].assign(trial_id="c0", stage="confirmation")
    epochs = pd.concat([epochs, pd.DataFrame([{"sweep": "s", "trial_id": "c0", "epoch": 2, "val_accuracy": 0.3}])])
    ranked = pd.concat([ranked, extra])
    ((_, _, _, table),) = common_epoch_effects(ranked, epochs)
    data = factor_data(ranked, epochs)
    assert {t.split(": ", 1)[1].split(",")[0] for t, *_ in data} == set(table["scope"])
    drawn = {(t.split(": ", 1)[1].split(",")[0], k[4:]) for t, _, keys, *_ in data for k in keys}
    # every row of the table drawn, and nothing else; a key every trial reads is drawn once, over all trials
    general = set(table.loc[table["scope"] == "all trials", "key"])
    rows = set(zip(table["scope"], table["key"]))
    assert drawn == {(scope, key) for scope, key in rows if scope == "all trials" or key not in general}
    assert {key for _, key in rows} == {key for _, key in drawn}
    for title, subset, keys, value, confirming in data:
        assert "c0" not in set(subset["trial_id"]) and list(confirming.index) == ["c0"]
        assert np.allclose(value.reindex(subset["trial_id"]).to_numpy(), val2[subset.index])
    assert len(plot_factor_effects(ranked, epochs)) == len(data)


def test_importance_caption_states_where_it_disagrees():
    from facebench.report.history import disagreement

    table = pd.DataFrame(
        [
            {"key": "loss.beta", "p_holm": 0.4, "aliased_with": ""},
            {"key": "model.width", "p_holm": np.nan, "aliased_with": "cfg.model.backbone"},
            {"key": "optim.lr", "p_holm": 0.001, "aliased_with": ""},
        ]
    )
    text = disagreement({"loss.beta@vae": 0.77, "model.width": 0.2, "optim.lr": 0.03}, table)
    assert "loss.beta (importance 0.77) is not significant in the table (p (Holm) 0.4)" in text
    assert "model.width (importance 0.20) is not significant in the table (aliased with cfg.model.backbone)" in text
    assert "optim.lr (importance 0.03) is significant in the table" in text
    assert disagreement({"optim.lr": 0.9}, table).startswith("It agrees")
