"""No absolute machine path in what the report writes, on real engine output: a sweep of real ``run_trial`` trials
whose config names an absolute data root, reported from an absolute results folder. The page, ``best.toml`` and
every string of every Parquet table are scanned for the results folder and the data root."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from real_trials import FACE, make_sweep

from facebench.cli import main
from facebench.configfile import load_config_file
from facebench.report import build_report
from facebench.report.paths import portable_value, shown_source, trial_path


@pytest.fixture(scope="module")
def rooted(tmp_path_factory):
    """(results folder, data root, report folder): two real trials that ran with ``data.root`` an absolute path."""
    results = tmp_path_factory.mktemp("results").resolve()
    data_root = tmp_path_factory.mktemp("machine-data").resolve() / "lfw"
    data_root.mkdir()
    cfg = {**FACE, "data.root": str(data_root)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        sweep = make_sweep(
            results, "rooted", [("t0000", {**cfg, "train.seed": 0}, None), ("t0001", {**cfg, "train.seed": 1}, None)]
        )
    (sweep / "study.db").write_bytes(b"not sqlite")  # a note that quotes the sweep's path
    out = results / "report"
    build_report([sweep], out)
    return results, data_root, out


def _strings(table) -> list[str]:
    return [v for col in table.columns if col.type in ("string", "large_string") for v in col.to_pylist() if v]


def test_the_trials_ran_with_the_absolute_data_root(rooted):
    results, data_root, _ = rooted
    assert str(data_root) in (results / "rooted" / "trials" / "t0000" / "config.json").read_text()


def test_no_absolute_path_in_page_best_toml_or_tables(rooted):
    results, data_root, out = rooted
    forbidden = (str(results), str(data_root), results.as_uri())
    page = (out / "index.html").read_text()
    best = (out / "best.toml").read_text()
    record = (out / "summary.json").read_text()
    for text, what in ((page, "index.html"), (best, "best.toml"), (record, "summary.json")):
        for path in forbidden:
            assert path not in text, f"{what} shows {path}"
    parquets = sorted(out.glob("*.parquet"))
    assert len(parquets) >= 6
    for f in parquets:
        for value in _strings(pq.read_table(f)):
            assert not value.startswith(forbidden) and str(results) not in value, (f.name, value)
    trials = pq.read_table(out / "trials.parquet").to_pandas().set_index("trial_id")
    assert trials.loc["t0000", "path"] == "trials/t0000"  # relative to the sweep folder
    assert trials.loc["t0000", "cfg.data.root"] == "lfw"  # the data root's last component only
    assert "<code>rooted</code>" in page  # the run directory by its name
    assert "rooted/study.db: cannot read the Optuna study" in page  # and so in the notes that quote it


def test_best_toml_asks_for_the_data_root_and_train_accepts_it(rooted, tmp_path, monkeypatch):
    out = rooted[2]
    best = out / "best.toml"
    text = best.read_text()
    assert "--set data.root=DIR" in text and "\nroot =" not in text
    assert (
        "<code>facebench train --config best.toml --out runs/best --set data.root=DIR</code>"
        in (out / "index.html").read_text()
    )
    assert "data.root" not in load_config_file(best)
    seen = {}

    def fake_run_trial(cfg, report, **kw):  # the CLI's own parsing, without training
        seen["cfg"] = cfg
        return {"status": "completed", "metrics": {}, "trial_dir": kw["trial_dir"]}

    monkeypatch.setattr("facebench.engine.trial.run_trial", fake_run_trial)
    elsewhere = tmp_path / "my-lfw"
    assert (
        main(
            ["train", "--config", str(best), "--set", f"data.root={elsewhere}", "--out", str(tmp_path / "t"), "--quiet"]
        )
        == 0
    )
    assert seen["cfg"].data.root == str(elsewhere) and seen["cfg"].task == "face"


def test_portable_values_known_answers(tmp_path):
    assert portable_value("data.root", "/mnt/data/lfw/") == "lfw"
    assert portable_value("data.root", "file:///mnt/data/lfw") == "lfw"
    assert portable_value("data.root", "data/lfw") == "data/lfw"  # as the user typed it: relative
    assert portable_value("data.pairs", "/x/lfw/pairs.txt") == "pairs.txt"
    assert (
        portable_value("eval.sets", "/d/lfw.bin,cfp=/d/cfp_fp.bin,agedb_30.bin") == "lfw.bin,cfp=cfp_fp.bin,"
        "agedb_30.bin"
    )
    assert portable_value("model.backbone", "/not/a/path/key") == "/not/a/path/key"
    assert trial_path("/r/sweep/trials/t0001") == "trials/t0001" and trial_path("/r/lone") == "lone"
    assert shown_source(str(tmp_path / "runs" / "margin"), cwd=str(tmp_path)) == "runs/margin"
    assert shown_source(str(tmp_path / "runs" / "margin"), cwd="/elsewhere") == "margin"
    assert shown_source("runs/margin") == "runs/margin" and shown_source("s3://b/runs/x") == "s3://b/runs/x"


def test_the_record_beside_the_page_holds_no_machine_path_known_answer():
    from facebench.report.paths import portable_record

    summary = {
        "sweep_dir": "/srv/runs/m",
        "experiment": "/srv/runs/m/ray",
        "trials": [{"trial_id": "a", "trial_dir": "/srv/runs/m/trials/a", "objective": 0.7}],
        "confirmation": [{"recipe": "CE", "data": "/data/lfw", "seeds": [1, 2]}],
        "storage": "s3://bucket/runs",
    }
    assert portable_record(summary) == {
        "sweep_dir": "m",
        "experiment": "ray",
        "trials": [{"trial_id": "a", "trial_dir": "trials/a", "objective": 0.7}],
        "confirmation": [{"recipe": "CE", "data": "lfw", "seeds": [1, 2]}],
        "storage": "s3://bucket/runs",
    }


def test_best_toml_leaves_out_every_machine_path_known_answer():
    import pandas as pd

    from facebench.report.best import best_config

    row = pd.Series(
        {
            "sweep": "s",
            "trial_id": "t1",
            "objective": 0.8,
            "objective_metric": "val_accuracy",
            "objective_select": "best",
            "score": 0.75,
            "score_metric": "test_accuracy_mean",
        }
    )
    text = best_config(
        row,
        {
            "task": "face",
            "name": "x",
            "data.root": "/mnt/d/lfw",
            "data.pairs": "/mnt/d/pairs.txt",
            "data.cache_dir": "cache",
            "train.epochs": 3,
        },
    )
    assert text.splitlines()[2:5] == [
        "#   facebench train --config best.toml --out runs/best --set data.root=DIR --set data.pairs=PAIRS",
        "# data.root is left out: pass --set data.root=DIR, DIR being your copy of the 'lfw' dataset.",
        (
            "# also left out, as paths of the machine that ran it: data.pairs; set them the same way if the trial needs "
            "them."
        ),
    ]
    assert "/mnt" not in text and 'cache_dir = "cache"' in text and "epochs = 3" in text


def test_a_hand_edited_score_is_left_out_with_a_note_not_reported(tmp_path):
    """A result.json whose test accuracy was edited to 7.5 (or NaN) is not shown as if it were measured: the
    collection keeps the trial as failed with the reason, its scores dropped, and says so in a note."""
    import json

    from real_trials import FACE, make_sweep

    from facebench.report.collect import collect

    sweep = make_sweep(tmp_path, "edited", [("t0000", FACE, None), ("t0001", {**FACE, "train.seed": 1}, None)])
    path = sweep / "trials" / "t0001" / "result.json"
    record = json.loads(path.read_text())
    assert 0 <= record["metrics"]["test_accuracy_mean"] <= 1  # the real writer's value
    record["metrics"]["test_accuracy_mean"] = 7.5
    path.write_text(json.dumps(record))
    got = collect([sweep])
    by_id = {t.trial_id: t for t in got.trials}
    assert by_id["t0000"].result["status"] == "completed"
    assert by_id["t0001"].result["status"] == "failed" and by_id["t0001"].result["metrics"] == {}
    assert "metrics.test_accuracy_mean = 7.5 is not a score in [0, 1]" in by_id["t0001"].result["reason"]
    assert any("t0001/result.json" in n and "7.5" in n for n in by_id["t0001"].notes + got.notes)
