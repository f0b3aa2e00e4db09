"""facebench.report on fake sweep directories written in the documented layout (tests/report_fakes.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from report_fakes import make_sweep, make_trial

from facebench.cli import main
from facebench.report import build_report
from facebench.report import tables as T
from facebench.report.plots import pareto_front
from facebench.report.stats import rank_trials, seed_summary

MIXED = (
    [dict(task="face", quality=0.3 + 0.1 * i, seed=i % 2, overrides={"loss.name": ("arcface", "cosface")[i // 2]})
     for i in range(4)]
    + [dict(task="autoencoder", overrides={"loss.beta": b, "model.embedding_size": z}) for b in (0.5, 4.0)
       for z in (16, 32)]
    + [dict(task="cifar"), dict(task="face", status="failed", reason="CUDA out of memory"),
       dict(task="face", status="stopped-no-result"), dict(task="face", status="stopped", reason="ASHA")]
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The one report built with its worker processes (large sweeps use them; small ones run inline)."""
    from facebench.report import build

    root = tmp_path_factory.mktemp("runs")
    sweep = make_sweep(root, "mixed", MIXED, study=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "WORKER_MIN_TRIALS", 0)
        index = build_report([sweep], root / "report")
    return sweep, Path(index)


def read(out: Path, name: str) -> pa.Table:
    return pq.read_table(out / f"{name}.parquet")


def test_report_writes_every_table_and_section(mixed):
    sweep, index = mixed
    page = index.read_text()
    for section in ("summary", "ranked", "factors", "curves", "vae", "roc", "confusion", "recon", "history",
                    "pareto", "statistics", "notes"):
        assert f'<section id="{section}">' in page
    assert page.count("<img ") >= 12
    assert "figure '" not in page and "history figures failed" not in page, "a figure raised"
    assert 'alt="Optimisation history: mixed' in page and 'alt="Parameter importances: mixed' in page
    trials = read(index.parent, "trials").to_pandas()
    assert len(trials) == len(MIXED)
    assert trials["status"].value_counts().to_dict() == {"completed": 9, "failed": 1, "stopped": 2}
    killed = trials[trials["trial_id"] == "t0010"].iloc[0]
    assert killed["status"] == "stopped" and "no result.json" in killed["reason"]
    assert trials.loc[trials["trial_id"] == "t0011", "reason"].item() == "ASHA"
    assert read(index.parent, "epochs").num_rows == 3 * len(MIXED)


def test_folds_and_active_units_match_the_artefacts(mixed):
    sweep, index = mixed
    folds = read(index.parent, "folds").to_pandas()
    for trial in ("t0000", "t0004"):
        with np.load(sweep / "trials" / trial / "artefacts" / "verification.npz") as z:
            got = folds[(folds.trial_id == trial) & (folds.split == "test")].sort_values("fold")
            np.testing.assert_array_equal(got["accuracy"], z["fold_accuracy"])
            np.testing.assert_array_equal(got["threshold"], z["thresholds"])
            assert got["n_pairs"].tolist() == np.bincount(z["fold"]).tolist()
            # intersection columns come from verification.json, whatever order its folds are in
            np.testing.assert_allclose(got["intersection_threshold"], z["thresholds"] + 0.01)
            np.testing.assert_allclose(got["intersection_accuracy"], z["fold_accuracy"] - 0.005)
    trials = read(index.parent, "trials").to_pandas().set_index("trial_id")
    with np.load(sweep / "trials" / "t0004" / "artefacts" / "latents.npz") as z:
        assert trials.loc["t0004", "active_units"] == int((z["mu_variance"] > 0.01).sum())
        assert trials.loc["t0004", "latent_dims"] == len(z["mu_variance"])


def test_roc_points_lie_on_sklearns_roc(mixed):
    from sklearn.metrics import roc_curve

    sweep, index = mixed
    roc = read(index.parent, "roc").to_pandas()
    got = roc[(roc.trial_id == "t0001") & (roc.split == "test")]
    assert 10 < len(got) <= T.ROC_POINTS
    with np.load(sweep / "trials" / "t0001" / "artefacts" / "verification.npz") as z:
        fpr, tpr, _ = roc_curve(z["same"], z["scores"], drop_intermediate=False)
    oracle = set(zip(np.round(fpr, 12), np.round(tpr, 12)))
    assert set(zip(np.round(got["fpr"], 12), np.round(got["tpr"], 12))) <= oracle
    assert got["fpr"].iloc[0] == 0 and got["fpr"].iloc[-1] == 1 and got["tpr"].is_monotonic_increasing


def test_confusion_is_long_format_of_the_matrix(mixed):
    import json

    sweep, index = mixed
    conf = read(index.parent, "confusion").to_pandas()
    body = json.loads((sweep / "trials" / "t0008" / "artefacts" / "classification.json").read_text())
    m = np.zeros((10, 10), dtype=np.int64)
    got = conf[conf.trial_id == "t0008"]
    m[got["true_index"], got["pred_index"]] = got["count"]
    np.testing.assert_array_equal(m, body["confusion_matrix"])
    assert set(got["true"]) == set(body["class_names"])


def test_schema_is_versioned_and_typed(mixed):
    _, index = mixed
    for name in T.TABLES:
        table = read(index.parent, name)
        assert table.schema.metadata[b"facebench.schema_version"] == str(T.SCHEMA_VERSION).encode()
        assert table.schema.metadata[b"facebench.table"] == name.encode()
        assert table.column("schema_version").to_pylist() == [T.SCHEMA_VERSION] * table.num_rows
        for col, typ in T.FIXED[name]:
            assert table.schema.field(col).type == typ, (name, col)
    trials = read(index.parent, "trials")
    assert trials.schema.field("cfg.loss.margin").type == pa.float64()
    assert trials.schema.field("cfg.train.epochs").type == pa.int64()
    assert trials.schema.field("cfg.model.neck").type == pa.bool_()
    assert trials.schema.field("cfg.loss.name").type == pa.string()


def test_two_sweeps_concatenate_with_the_union_of_columns(tmp_path):
    a = make_sweep(tmp_path, "a", [dict(task="face")])
    b = make_sweep(tmp_path, "b", [dict(task="cifar")])
    # a column only sweep b has: a newer engine's extra metric
    import json
    res = b / "trials" / "t0000" / "result.json"
    body = json.loads(res.read_text())
    body["metrics"]["test_extra"] = 0.25
    res.write_text(json.dumps(body))
    build_report([a, b], tmp_path / "both")
    trials = read(tmp_path / "both", "trials").to_pandas().set_index("sweep")
    assert sorted(trials.index) == ["a", "b"]
    assert trials.loc["b", "test_extra"] == 0.25 and math.isnan(trials.loc["a", "test_extra"])
    build_report([a], tmp_path / "ra")
    build_report([b], tmp_path / "rb")
    joined = T.concat([read(tmp_path / "ra", "trials"), read(tmp_path / "rb", "trials")])
    assert joined.num_rows == 2 and "test_extra" in joined.column_names


def test_file_uri_in_and_out(tmp_path):
    sweep = make_sweep(tmp_path, "uri", [dict(task="cifar"), dict(task="face", status="failed")])
    index = build_report([sweep.as_uri()], (tmp_path / "out").as_uri())
    assert Path(index) == tmp_path / "out" / "index.html"
    table = T.read_table((tmp_path / "out").as_uri(), "trials")
    assert table.column("status").to_pylist() == ["completed", "failed"]
    assert table.column("path").to_pylist()[0].startswith("file://")


def test_empty_sweep_is_a_valid_report(tmp_path):
    sweep = make_sweep(tmp_path, "empty", [])
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "no trials found" in page and "no completed trials" in page
    trials = read(tmp_path / "r", "trials")
    assert trials.num_rows == 0 and "cfg.loss.name" in trials.column_names


def test_all_failed_sweep_says_so(tmp_path):
    sweep = make_sweep(tmp_path, "bad", [dict(task="face", status="failed", reason="boom")] * 2)
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "no completed trials (2 failed)" in page
    assert 'alt="Training curves: face"' in page  # a failed trial's curves show how it failed
    assert 'alt="Ranked trials' not in page and 'alt="ROC' not in page and 'alt="Accuracy against' not in page


def test_nan_metrics_are_reported_missing(tmp_path):
    sweep = make_sweep(tmp_path, "nan", [dict(task="face", nan_metrics=True, artefacts=False), dict(task="face")])
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "metric test_accuracy_mean missing or NaN for 1 of 2 completed trials" in page
    trials = read(tmp_path / "r", "trials").to_pandas()
    assert trials["test_accuracy_mean"].isna().sum() == 1


def test_strings_from_configs_are_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    sweep = make_sweep(tmp_path, "x", [dict(task="face", name=evil, reason=evil, status="failed")])
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_single_trial_dir_and_cli_exit_codes(tmp_path, capsys):
    trial = make_trial(tmp_path / "runs" / "s" / "trials" / "t1", task="cifar")
    assert main(["report", str(trial), "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    assert read(tmp_path / "r", "trials").column("sweep").to_pylist() == ["s"]
    (tmp_path / "plain").mkdir()
    assert main(["report", str(tmp_path / "plain"), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r3")]) == 2
    assert "no such directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["report", "--help"])
    assert e.value.code == 0


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(1)
    cost, score = rng.random(200), rng.random(200)
    brute = {i for i in range(200) if not any((cost[j] <= cost[i]) and (score[j] >= score[i]) and
                                              (cost[j] < cost[i] or score[j] > score[i]) for j in range(200))}
    assert set(pareto_front(cost, score).tolist()) == brute


def test_ranking_and_seed_statistics():
    import pandas as pd

    df = pd.DataFrame({"sweep": "s", "trial_id": list("abcde"), "task": "face", "seed": [0, 1, 0, 1, 0],
                       "status": ["completed"] * 4 + ["failed"], "cfg.loss.name": ["arc", "arc", "cos", "cos", "cos"],
                       "cfg.train.seed": [0, 1, 0, 1, 0], "objective": [0.8, 0.9, np.nan, 0.7, 0.99],
                       "objective_se": [0.06, 0.01, np.nan, 0.01, 0.01], "objective_mode": "max",
                       "score": [0.81, 0.91, 0.5, 0.72, np.nan]})
    ranked = rank_trials(df)
    assert ranked["trial_id"].tolist() == ["b", "a", "d", "c", "e"]  # failed last even with the top val
    # a: 0.1 below #1 but within 1.96 * sqrt(0.01^2 + 0.06^2) = 0.119; d: 0.2 below, outside 0.028
    assert ranked["tied_with_first"].tolist() == [True, True, False, False, False]
    lower = rank_trials(df.assign(objective_mode="min"))   # e.g. a validation loss: lower is better
    assert lower["trial_id"].tolist() == ["d", "a", "b", "c", "e"]
    seeds = seed_summary(ranked).set_index("recipe")
    assert seeds.loc["loss.name=arc", "n_seeds"] == 2
    assert seeds.loc["loss.name=arc", "score_mean"] == pytest.approx(0.86)
    assert seeds.loc["loss.name=arc", "score_std"] == pytest.approx(0.05)
    assert seeds.loc["loss.name=cos", "seeds"] == "0,1"


def test_paired_comparison_of_the_top_trials(mixed):
    from facebench.report.build import load_npz
    from facebench.report.stats import paired_comparison

    _, index = mixed
    ranked = rank_trials(read(index.parent, "trials").to_pandas())
    folds = read(index.parent, "folds").to_pandas()
    table, notes = paired_comparison(ranked, load_npz, top=3)
    assert not notes and len(table) == 2
    verif = ranked[(ranked.status == "completed") & (ranked.task != "cifar")]
    best, second = verif["trial_id"].iloc[0], verif["trial_id"].iloc[1]
    fold_mean = folds[(folds.trial_id == best) & (folds.split == "test")]["accuracy"].mean()
    assert table["accuracy_a"].iloc[0] == pytest.approx(fold_mean)  # its own thresholds, brute-force folds
    assert table["b"].iloc[0].endswith(f"/{second}")
    assert table["mean_diff"].iloc[0] == pytest.approx(table["accuracy_a"].iloc[0] - table["accuracy_b"].iloc[0])
    assert table["ci_low"].iloc[0] <= table["mean_diff"].iloc[0] <= table["ci_high"].iloc[0]
    assert "Paired comparison" in index.read_text() and "mcnemar_p" in index.read_text()


def test_a_damaged_study_is_a_note_not_a_crash(tmp_path):
    sweep = make_sweep(tmp_path, "dmg", [dict(task="cifar")])
    (sweep / "study.db").write_bytes(b"this is not sqlite")
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "cannot read the Optuna study" in page
    assert 'alt="Confusion matrix' in page
