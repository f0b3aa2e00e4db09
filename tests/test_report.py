"""facebench.report on real engine output: the session's tiny ``run_trial`` sweep (tests/real_trials.py)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from real_trials import EVIL, MIXED, make_sweep

from facebench import artefacts
from facebench.cli import main
from facebench.report import build_report
from facebench.report import tables as T
from facebench.report.plots import pareto_front
from facebench.report.stats import rank_trials, seed_summary


@pytest.fixture(scope="module")
def mixed(mixed_sweep, tmp_path_factory):
    index = build_report([mixed_sweep], tmp_path_factory.mktemp("report") / "report")
    return mixed_sweep, Path(index)


def read(out: Path, name: str) -> pa.Table:
    return pq.read_table(out / f"{name}.parquet")


def art(sweep: Path, trial: str) -> Path:
    return sweep / "trials" / trial / "artefacts"


def copy_trials(sweep: Path, root: Path, name: str, trials: list[str]) -> Path:
    """A new sweep directory holding copies of real trial directories."""
    for tid in trials:
        shutil.copytree(sweep / "trials" / tid, root / name / "trials" / tid)
    return root / name


def test_report_writes_every_table_and_section(mixed):
    sweep, index = mixed
    page = index.read_text()
    for section in (
        "summary",
        "ranked",
        "factors",
        "curves",
        "vae",
        "roc",
        "confusion",
        "recon",
        "history",
        "pareto",
        "effects",
        "statistics",
        "notes",
    ):
        assert f'<section id="{section}">' in page
    assert page.count("<img ") >= 12
    assert "figure '" not in page and "history figures failed" not in page, "a figure raised"
    assert 'alt="Optimisation history: mixed' in page and 'alt="Parameter importances (descriptive): mixed' in page
    trials = read(index.parent, "trials").to_pandas().set_index("trial_id")
    # the page names the variants properly; the table keeps the registry's names
    assert "<td>ArcFace</td>" in page and "<td>CosFace</td>" in page and "<td>baseline CNN</td>" in page
    assert {"arcface", "cosface", "vae", "ce"} <= set(trials["cfg.loss.name"]) and "<td>arcface</td>" not in page
    assert len(trials) == len(MIXED)
    assert trials["status"].value_counts().to_dict() == {"completed": 7, "failed": 1, "stopped": 2}
    assert "no result.json" in trials.loc["t0008", "reason"]  # killed: the engine never wrote result.json
    assert trials.loc["t0009", "reason"] == "stopped by the caller after epoch 1"
    assert trials.loc["t0007", "reason"] == f"RuntimeError: {EVIL}"  # raised in epoch 2
    epochs = read(index.parent, "epochs").to_pandas()
    assert epochs.groupby("trial_id").size().to_dict() == {
        **{t: 2 for t, _, f in MIXED if f is None},
        "t0007": 1,
        "t0008": 1,
        "t0009": 1,
    }
    assert trials["epochs_run"].to_dict() == epochs.groupby("trial_id").size().to_dict()


def test_epochs_table_is_the_engines_epoch_log(mixed):
    sweep, index = mixed
    epochs = read(index.parent, "epochs").to_pandas()
    for tid in ("t0000", "t0004", "t0006", "t0008"):
        logged = [json.loads(line) for line in (sweep / "trials" / tid / "epochs.jsonl").read_text().splitlines()]
        got = epochs[epochs.trial_id == tid].sort_values("epoch")
        assert got["epoch"].tolist() == [r["epoch"] for r in logged]
        for key in ("train_loss", "val_accuracy", "lr"):
            np.testing.assert_array_equal(got[key], [r[key] for r in logged])
    vae = epochs[epochs.trial_id == "t0004"]
    assert vae["train_recon"].notna().all() and vae["train_kld"].notna().all()


def test_folds_and_active_units_match_the_artefacts(mixed):
    sweep, index = mixed
    folds = read(index.parent, "folds").to_pandas()
    for trial in ("t0000", "t0004"):
        z = artefacts.read_verification_npz(sweep / "trials" / trial)
        inter = json.loads((art(sweep, trial) / "verification.json").read_text())["intersection"]["folds"]
        got = folds[(folds.trial_id == trial) & (folds.split == "test")].sort_values("fold")
        np.testing.assert_array_equal(got["accuracy"], z["fold_accuracy"])
        np.testing.assert_array_equal(got["threshold"], z["thresholds"])
        assert got["n_pairs"].tolist() == np.bincount(z["fold"]).tolist()
        np.testing.assert_allclose(got["intersection_threshold"], [f["threshold"] for f in inter])
        np.testing.assert_allclose(got["intersection_accuracy"], [f["accuracy"] for f in inter])
    trials = read(index.parent, "trials").to_pandas().set_index("trial_id")
    for trial, dims in (("t0004", 16), ("t0005", 32)):
        z = artefacts.load_npz(art(sweep, trial) / "latents.npz")
        assert trials.loc[trial, "active_units"] == int((z["mu_variance"] > z["threshold"]).sum())
        assert trials.loc[trial, "latent_dims"] == len(z["mu_variance"]) == dims
    result = json.loads((sweep / "trials" / "t0000" / "result.json").read_text())
    assert (
        trials.loc["t0000", "score"]
        == result["metrics"]["test_accuracy_mean"]
        == pytest.approx(folds[(folds.trial_id == "t0000")]["accuracy"].mean())
    )


def test_roc_points_lie_on_sklearns_roc(mixed):
    from sklearn.metrics import roc_curve

    sweep, index = mixed
    roc = read(index.parent, "roc").to_pandas()
    got = roc[(roc.trial_id == "t0001") & (roc.split == "test")]
    assert 10 < len(got) <= artefacts.ROC_POINTS
    z = artefacts.read_verification_npz(sweep / "trials" / "t0001")
    sign = 1 if z["greater_is_same"] else -1
    fpr, tpr, _ = roc_curve(z["same"], sign * z["scores"], drop_intermediate=False)
    oracle = set(zip(np.round(fpr, 12), np.round(tpr, 12)))
    assert set(zip(np.round(got["fpr"], 12), np.round(got["tpr"], 12))) <= oracle
    assert got["fpr"].iloc[0] == 0 and got["fpr"].iloc[-1] == 1 and got["tpr"].is_monotonic_increasing


def test_downsampled_roc_keeps_both_ends_and_the_low_fpr_end():
    fpr = np.linspace(0, 1, 10_001) ** 3  # many points near FPR 0, as a good model has
    tpr = np.sqrt(np.linspace(0, 1, 10_001))
    f, t, thr = artefacts.downsample_roc(fpr, tpr, np.arange(len(fpr)))
    assert len(f) <= artefacts.ROC_POINTS and f[0] == 0 and f[-1] == 1
    assert (f < 1e-3).sum() >= 10  # the log-spaced grid keeps the low-FPR end
    np.testing.assert_array_equal(t, tpr[thr])  # every point is a vertex of the input curve


def test_confusion_is_long_format_of_the_matrix(mixed):
    sweep, index = mixed
    conf = read(index.parent, "confusion").to_pandas()
    body = json.loads((art(sweep, "t0006") / "classification.json").read_text())
    m = np.zeros((10, 10), dtype=np.int64)
    got = conf[conf.trial_id == "t0006"]
    assert len(got) == 100
    m[got["true_index"], got["pred_index"]] = got["count"]
    np.testing.assert_array_equal(m, body["confusion_matrix"])
    assert set(got["true"]) == set(body["class_names"])


def test_schema_is_versioned_and_typed(mixed):
    sweep, index = mixed
    for name in T.TABLES:
        table = read(index.parent, name)
        assert table.schema.metadata[b"facebench.schema_version"] == str(T.SCHEMA_VERSION).encode()
        assert table.schema.metadata[b"facebench.table"] == name.encode()
        assert table.column("schema_version").to_pylist() == [T.SCHEMA_VERSION] * table.num_rows
        assert table.num_rows > 0 or name == "sets"  # no trial here runs eval.sets (tests/test_eval_sets.py does)
        for col, typ in T.FIXED[name]:
            assert table.schema.field(col).type == typ, (name, col)
    for name in set(artefacts.TABLES) - {"sets"}:  # the engine's own per-trial files carry the version too
        own = pq.read_table(artefacts.table_path(art(sweep, "t0006" if name == "confusion" else "t0004"), name))
        assert own.schema.metadata[b"facebench.schema_version"] == str(artefacts.SCHEMA_VERSION).encode()
    trials = read(index.parent, "trials")
    assert trials.schema.field("cfg.loss.margin").type == pa.float64()
    assert trials.schema.field("cfg.train.epochs").type == pa.int64()
    assert trials.schema.field("cfg.model.neck").type == pa.bool_()
    assert trials.schema.field("cfg.loss.name").type == pa.string()


def test_two_sweeps_concatenate_with_the_union_of_columns(mixed_sweep, tmp_path):
    a = copy_trials(mixed_sweep, tmp_path, "a", ["t0000"])
    b = copy_trials(mixed_sweep, tmp_path, "b", ["t0006"])
    res = b / "trials" / "t0006" / "result.json"  # a metric only a newer engine writes
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


def test_file_uri_in_and_out(mixed_sweep, tmp_path):
    sweep = copy_trials(mixed_sweep, tmp_path, "uri", ["t0006", "t0007"])
    index = build_report([sweep.as_uri()], (tmp_path / "out").as_uri())
    assert Path(index) == tmp_path / "out" / "index.html"
    table = T.read_table((tmp_path / "out").as_uri(), "trials")
    assert table.column("status").to_pylist() == ["completed", "failed"]
    assert table.column("path").to_pylist() == ["trials/t0006", "trials/t0007"]  # relative to the sweep
    assert T.read_table((tmp_path / "out").as_uri(), "confusion").num_rows == 100


def test_empty_sweep_is_a_valid_report(tmp_path):
    sweep = make_sweep(tmp_path, "empty", [])
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "no trials found" in page and "no completed trials" in page
    trials = read(tmp_path / "r", "trials")
    assert trials.num_rows == 0 and "cfg.loss.name" in trials.column_names
    for name in artefacts.TABLES:
        assert read(tmp_path / "r", name).num_rows == 0


def test_failed_sweep_says_so_and_shows_how_it_failed(mixed_sweep, tmp_path):
    sweep = copy_trials(mixed_sweep, tmp_path, "bad", ["t0007"])
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "no completed trials (1 failed)" in page
    assert 'alt="Training curves: face"' in page  # the epoch it finished before failing
    assert 'alt="Ranked trials' not in page and 'alt="ROC' not in page and 'alt="Accuracy against' not in page


def test_nan_metrics_are_reported_missing(mixed_sweep, tmp_path):
    sweep = copy_trials(mixed_sweep, tmp_path, "nan", ["t0000", "t0001"])
    res = sweep / "trials" / "t0000" / "result.json"
    body = json.loads(res.read_text())
    body["metrics"]["test_accuracy_mean"] = None  # how facebench.io writes a NaN
    res.write_text(json.dumps(body))
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "metric test_accuracy_mean missing or NaN for 1 of 2 completed trials" in page
    assert read(tmp_path / "r", "trials").to_pandas()["test_accuracy_mean"].isna().sum() == 1


def test_strings_from_configs_and_reasons_are_escaped(mixed):
    _, index = mixed
    page = index.read_text()
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unreadable_table_is_a_note_not_a_crash(mixed_sweep, tmp_path):
    sweep = copy_trials(mixed_sweep, tmp_path, "torn", ["t0000", "t0001"])
    artefacts.table_path(art(sweep, "t0001"), "folds").write_bytes(b"PAR1 torn by a kill")
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "unreadable folds table" in page
    folds = read(tmp_path / "r", "folds").to_pandas()
    assert set(folds["trial_id"]) == {"t0000"}


def test_single_trial_dir_and_cli_exit_codes(mixed_sweep, tmp_path, capsys):
    trial = mixed_sweep / "trials" / "t0006"
    assert main(["report", str(trial), "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r" / "index.html")
    assert read(tmp_path / "r", "trials").column("sweep").to_pylist() == ["mixed"]
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
    brute = {
        i
        for i in range(200)
        if not any(
            (cost[j] <= cost[i]) and (score[j] >= score[i]) and (cost[j] < cost[i] or score[j] > score[i])
            for j in range(200)
        )
    }
    assert set(pareto_front(cost, score).tolist()) == brute


def test_ranking_and_seed_statistics():
    import pandas as pd

    df = pd.DataFrame(
        {
            "sweep": "s",
            "trial_id": list("abcde"),
            "task": "face",
            "seed": [0, 1, 0, 1, 0],
            "status": ["completed"] * 4 + ["failed"],
            "cfg.loss.name": ["arc", "arc", "cos", "cos", "cos"],
            "cfg.train.seed": [0, 1, 0, 1, 0],
            "objective": [0.8, 0.9, np.nan, 0.7, 0.99],
            "objective_se": [0.06, 0.01, np.nan, 0.01, 0.01],
            "objective_mode": "max",
            "score": [0.81, 0.91, 0.5, 0.72, np.nan],
        }
    )
    ranked = rank_trials(df)
    assert ranked["trial_id"].tolist() == ["b", "a", "d", "c", "e"]  # failed last even with the top val
    # a: 0.1 below #1 but within 1.96 * sqrt(0.01^2 + 0.06^2) = 0.119; d: 0.2 below, outside 0.028
    assert ranked["tied_with_first"].tolist() == [True, True, False, False, False]
    lower = rank_trials(df.assign(objective_mode="min"))  # e.g. a validation loss: lower is better
    assert lower["trial_id"].tolist() == ["d", "a", "b", "c", "e"]
    seeds = seed_summary(ranked).set_index("recipe")
    assert seeds.loc["loss.name=arc", "n_seeds"] == 2
    assert seeds.loc["loss.name=arc", "score_mean"] == pytest.approx(0.86)
    assert seeds.loc["loss.name=arc", "score_std"] == pytest.approx(0.1 / np.sqrt(2))  # sd with ddof=1, as the CIs
    assert seeds.loc["loss.name=cos", "seeds"] == "0,1"


def test_paired_comparison_of_the_top_trials(mixed):
    from facebench.report.arrays import load_npz
    from facebench.report.stats import paired_comparison

    sweep, index = mixed
    ranked = rank_trials(read(index.parent, "trials").to_pandas())
    ranked["location"] = [str(sweep / p) for p in ranked["path"]]  # the table's path is relative to its sweep
    folds = read(index.parent, "folds").to_pandas()
    table, notes = paired_comparison(ranked, load_npz, top=3)
    assert not notes and len(table) == 2
    verif = ranked[(ranked.status == "completed") & (ranked.task != "cifar")]
    best, second = verif["trial_id"].iloc[0], verif["trial_id"].iloc[1]
    fold_mean = folds[(folds.trial_id == best) & (folds.split == "test")]["accuracy"].mean()
    assert table["accuracy_a"].iloc[0] == pytest.approx(fold_mean)  # its own thresholds, brute-force folds
    assert f"mixed/{second}" in table["b"].iloc[0]
    assert table["mean_diff"].iloc[0] == pytest.approx(table["accuracy_a"].iloc[0] - table["accuracy_b"].iloc[0])
    assert table["ci_low"].iloc[0] <= table["mean_diff"].iloc[0] <= table["ci_high"].iloc[0]
    page = index.read_text()  # one seed each: labelled exploratory, no p-value on the page
    assert "Exploratory: the best trial by validation rank" in page and "confirmation stage" in page
    assert (
        "mcnemar_p" not in page and "McNemar" not in page.split('<section id="statistics">')[1].split("</section>")[0]
    )


def test_a_damaged_study_is_a_note_not_a_crash(mixed_sweep, tmp_path):
    sweep = copy_trials(mixed_sweep, tmp_path, "dmg", ["t0006"])
    (sweep / "study.db").write_bytes(b"this is not sqlite")
    page = Path(build_report([sweep], tmp_path / "r")).read_text()
    assert "cannot read the Optuna study" in page
    assert 'alt="Confusion matrix' in page
