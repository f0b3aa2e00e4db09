"""The report's publishing pieces (report/best.py, targets.py, vae.py) on real engine output: best.toml re-runs the #1
trial to the same test accuracy, the budget and reference lines, the beta and backbone figures, reconstruction
grids by latent size; known answers for the TOML writer and the KL share."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from facebench.configfile import load_config_file
from facebench.errors import ConfigError
from facebench.report import build_report
from facebench.report.best import config_toml
from facebench.report.targets import parse_references, target_lines
from facebench.report.vae import plot_beta_terms


@pytest.fixture(scope="module")
def report(mixed_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("extras") / "report"
    build_report([mixed_sweep], out, references=[("raw pixels", 0.5)], notes=["2 CPU cores, no GPU"], target=0.999)
    return out


def _best_trial(report: Path) -> dict:
    trials = pd.read_parquet(report / "trials.parquet")
    done = trials[(trials["status"] == "completed") & (trials["stage"] != "confirmation")]
    key = done["objective"].astype(float).idxmax()  # the mixed sweep's objective is maximised
    return done.loc[key].to_dict()


def test_best_toml_is_the_first_trials_complete_config(report, mixed_sweep):
    best = _best_trial(report)
    written = json.loads((Path(mixed_sweep) / "trials" / best["trial_id"] / "config.json").read_text())
    loaded = load_config_file(report / "best.toml")
    assert loaded == {k: v for k, v in written.items() if v is not None and k not in ("name", "data.root")}
    assert f"trial {best['trial_id']}" in (report / "best.toml").read_text().splitlines()[0]


def test_best_toml_reproduces_the_trials_test_accuracy(report, tmp_path, monkeypatch):
    from facebench.engine import run_trial

    best = _best_trial(report)
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path / "cache"))
    result = run_trial(load_config_file(report / "best.toml"), trial_dir=tmp_path / "again")
    assert result["status"] == "completed"
    assert result["metrics"]["test_accuracy_mean"] == pytest.approx(best["test_accuracy_mean"], abs=1e-6)


def test_page_states_budget_references_and_answers(report):
    page = (report / "index.html").read_text()
    assert "budget: sweep mixed: " in page and "<li>2 CPU cores, no GPU</li>" in page
    assert "reference: raw pixels <b>0.5000</b>" in page
    assert 'href="best.toml"' in page
    assert "<code>facebench train --config best.toml --out runs/best</code> re-runs it" in page  # synthetic: no root
    best = _best_trial(report)
    line = (
        f"target test_accuracy_mean &gt;= 0.9990: the #1 by validation (mixed/{best['trial_id']}) scores "
        f"{best['test_accuracy_mean']:.4f} (95% CI "
    )
    assert line in page and page.split(line)[1].split("</li>")[0].endswith("t over test folds, one seed): missed</b>")
    for title in ("Backbones against the reference scores", "Reconstruction and KL across beta"):
        assert f"<b>{title}</b>" in page
    # the two VAE trials have latents 16 and 32: one grid each, smaller latent first
    i16, i32 = page.find("Reconstructions: latent 16,"), page.find("Reconstructions: latent 32,")
    assert 0 <= i16 < i32


def test_config_toml_known_answer():
    text = config_toml(
        {
            "task": "face",
            "train.epochs": 3,
            "optim.lr": 0.001,
            "eval.flip": "sum",
            "train.checkpoint": False,
            "loss.scale": None,
            "data.root": 'a "q" \\ b',
        },
        ["hello"],
    )
    assert text == (
        '# hello\ntask = "face"\n\n[data]\nroot = "a \\"q\\" \\\\ b"\n\n[eval]\nflip = "sum"\n\n'
        "[optim]\nlr = 0.001\n\n[train]\ncheckpoint = false\nepochs = 3\n"
    )
    with pytest.raises(ConfigError, match="optim.lr: inf is not a finite number"):
        config_toml({"optim.lr": math.inf})


@pytest.mark.parametrize("bad", ["floor", "=0.5", "floor=", "floor=abc", "floor=inf", "floor=nan"])
def test_references_refuse_bad_input(bad):
    with pytest.raises(ConfigError, match="expected LABEL=VALUE"):
        parse_references([bad])


def test_references_parse_label_with_equals_sign():
    assert parse_references(["PCA k=128 floor=0.629", "raw = 0.5"]) == [("PCA k=128 floor", 0.629), ("raw", 0.5)]


def test_kl_share_known_answer():
    ranked = pd.DataFrame(
        {
            "sweep": ["s", "s"],
            "trial_id": ["a", "b"],
            "task": ["autoencoder"] * 2,
            "cfg.loss.name": ["vae", "vae"],
            "cfg.loss.beta": [1.0, 4.0],
            "status": ["completed"] * 2,
            "stage": ["sweep"] * 2,
        }
    )
    epochs = pd.DataFrame(
        {
            "sweep": ["s"] * 3,
            "trial_id": ["a", "a", "b"],
            "train_recon": [500.0, 90.0, 60.0],
            "train_kld": [1.0, 10.0, 10.0],
        }
    )
    (plot,) = plot_beta_terms(ranked, epochs)
    # last epochs: a: 10/(90+10) = 10 %, b: 40/(60+40) = 40 %; median 25 %
    assert "25.0% of the loss at the median (range 10.0%-40.0%)" in plot.caption
    assert "mostly reconstruction" in plot.caption


def test_target_met_and_missed_known_answer():
    """A target is met only when the interval's lower bound reaches it, missed only when its upper bound is below
    it, inconclusive otherwise (never from the point value); "winner" only where the confirmation is not a tie."""
    from facebench.report.record import target_entries, verdict

    assert verdict([0.80, 0.83], 0.8) == "met" and verdict([0.70, 0.799], 0.8) == "missed"
    assert verdict([0.797, 0.823], 0.8) == "inconclusive" and verdict([float("nan")] * 2, 0.8) == "inconclusive"
    ranked = pd.DataFrame(
        {
            "sweep": ["s", "s"],
            "trial_id": ["a", "b"],
            "status": ["completed"] * 2,
            "stage": ["sweep"] * 2,
            "score": [0.81, 0.9],
            "score_metric": ["test_accuracy_mean"] * 2,
            "location": ["nowhere-a", "nowhere-b"],
            "rank": [1, 2],
            "objective": [0.9, 0.8],
        }
    )

    class Sweep:
        name = "s"
        confirmation = [
            {
                "best": True,
                "recipe": "cnn ce",
                "test_accuracy_mean": 0.8103,
                "seeds": [1, 2, 3],
                "ci95": [0.797, 0.823],
            },
            {"best": False, "recipe": "cnn arcface", "verdict": "inconclusive: CI -0.5 to +1.9"},
        ]

    entries = target_entries(0.8, [Sweep()], ranked, lambda *_: None)
    assert [e["verdict"] for e in entries] == ["inconclusive", "inconclusive"]  # no decisions: no interval
    assert entries[1]["line"] == (
        "target test_accuracy_mean >= 0.8000: the best by mean over new seeds (no winner: "
        "inconclusive against cnn arcface) of s (cnn ce, 3 seeds) scores 0.8103 (95% CI 0.7970–0.8230, the "
        "confirmation's, over seeds): inconclusive (CI 0.7970–0.8230 contains the target)"
    )
    assert target_lines(None, [Sweep()], ranked) == []


def test_rate_distortion_reads_reconstruction_per_pixel_value():
    """A summed error divides by C*H*W, so 32 px and 64 px trials with the same per-pixel error meet on the axis."""
    import pandas as pd

    from facebench.report.vae import recon_per_value

    df = pd.DataFrame(
        {
            "train_recon": [3 * 32 * 32 * 0.01, 3 * 64 * 64 * 0.01, 64 * 64 * 0.01, 0.01],
            "cfg.data.image_size": [32, 64, 64, 64],
            "cfg.data.color": ["rgb", "rgb", "gray", "rgb"],
            "cfg.loss.recon_reduction": ["sum", "sum", "sum", "mean"],
        }
    )
    assert recon_per_value(df).round(12).tolist() == [0.01] * 4


def test_roc_axis_starts_at_one_impostor_pair():
    """1,500 impostor pairs cannot measure a FAR below 1/1500: the axis starts there, not at 1e-4."""
    import pandas as pd

    from facebench.report.plots import roc_floor

    assert roc_floor([pd.Series([0.0, 1 / 1500, 0.5, 1.0]), pd.Series([0.0, 2 / 3000, 1.0])]) == 2 / 3000
    assert roc_floor([pd.Series([0.0, 0.0])]) == 1e-4
