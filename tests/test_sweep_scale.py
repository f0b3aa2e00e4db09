"""Replay trials and the simulated cluster (docs/scale.md).

The fast tests run the replay writer without Ray (its folder is the contract the summary, resume and report
read) and the report's refusal to mix replayed and real trials. The ``durability`` test is the small version of
tests/bench/scale.py: 100 replayed trials on 4 simulated nodes, one node removed mid-sweep and the driver SIGKILLed
by the fault hook at half, then resumed; it asserts the accounting, never timings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from facebench.artefacts import TrialDir
from facebench.errors import DataError
from facebench.sweep.replay import load_curves, nearest, replay_trial

ROOT = Path(__file__).resolve().parents[1]
SOURCE = str(ROOT / "reports" / "margin")


def replay_spec(epochs: int = 4):
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from scale import build_spec

    args = type(
        "A",
        (),
        {
            "epochs": epochs,
            "seconds_per_epoch": 0.0,
            "checkpoint_kb": 4,
            "trials": 4,
            "scheduler": "asha",
            "gpus_per_trial": 0.0,
            "name": "scale",
        },
    )()
    return build_spec(args)


def recorded_config(curves, i: int) -> dict:
    return {"task": "face", **curves.configs[i]}


def test_a_recorded_configuration_replays_its_own_curve():
    curves = load_curves(SOURCE)
    source, distance = nearest(curves, recorded_config(curves, 3))
    assert (source, distance) == (curves.ids[3], 0.0)


def test_replay_writes_a_trial_folder_and_continues_from_its_checkpoint(tmp_path):
    spec = replay_spec()
    flat = spec.trial_config({"model.backbone": "cnn", "loss.name": "arcface", "optim.lr": 0.01})
    trial = TrialDir(tmp_path / "t1")
    trial.claim()
    seen = []

    def killed_after_two(row):
        seen.append(row["epoch"])
        if len(seen) == 2:
            raise KeyboardInterrupt  # a node lost after the second epoch's checkpoint

    with pytest.raises(KeyboardInterrupt):
        replay_trial(spec, flat, killed_after_two, trial)
    assert trial.read_result() is None and len(trial.read_epochs()) == 2
    again = []
    result = replay_trial(spec, flat, lambda r: again.append(r["epoch"]), trial)
    assert again == [3, 4]  # continued after its checkpoint, not replayed from the start
    assert result["status"] == "completed" and result["replayed"]["recorded_trial"]
    assert trial.read_meta()["replayed"] and trial.read_config() == flat
    assert [r["epoch"] for r in trial.read_epochs()] == [1, 2, 3, 4]
    assert (trial.path / "artefacts" / "epochs.parquet").is_file()
    assert (trial.path / "checkpoint.pt").stat().st_size == 4 * 1024
    best = max(r["val_accuracy"] for r in trial.read_epochs())
    assert result["metrics"]["objective"] == pytest.approx(best)  # select "best" of the sweep's metric


def test_a_report_never_mixes_replayed_and_real_trials(tmp_path, mixed_sweep):
    from facebench.report import build_report

    spec = replay_spec()
    sweep = tmp_path / "replayed"
    for i in range(2):
        trial = TrialDir(sweep / "trials" / f"r{i}")
        trial.claim()
        replay_trial(
            spec, spec.trial_config({"model.backbone": "cnn", "optim.lr": 0.01 * (i + 1)}), lambda r: None, trial
        )
    (sweep / "sweep.json").write_text(json.dumps({"name": "replayed", "replay": spec.replay.to_json()}))
    with pytest.raises(DataError, match="cannot mix replayed and real"):
        build_report([str(sweep), str(mixed_sweep)], tmp_path / "mixed-report")
    index = build_report([str(sweep)], tmp_path / "report")
    page = Path(index).read_text()
    assert "REPLAYED trials, no training" in page and "no model was trained" in page


@pytest.mark.durability
def test_100_replayed_trials_on_4_nodes_one_killed_nothing_lost_or_twice():
    ray_tmp = Path(tempfile.mkdtemp(prefix="fbsc_", dir="/tmp"))  # short: Ray's socket paths fit 107 bytes
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": str(ray_tmp)}
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "bench" / "scale.py"),
            "--trials",
            "100",
            "--nodes",
            "4",
            "--kill-nodes",
            "1",
            "--seconds-per-epoch",
            "0.1",
            "--checkpoint-kb",
            "4",
            "--no-baseline",  # the accounting only: no plain-Tune cold start beside it
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    left = list(ray_tmp.iterdir())
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["killed_nodes"] == 1
    assert out["lost"] == 0 and out["duplicates"] == 0 and out["failed"] == 0, out
    assert out["completed"] + out["stopped"] == 100
    assert out["resume_s"] is not None
    assert not left, f"the bench left files in its Ray temp dir: {left}"


def test_usable_retention_keeps_the_top_and_the_resumable_checkpoints(tmp_path):
    from facebench.artefacts import SweepDir
    from facebench.sweep.retention import drop_unusable

    spec = replay_spec()
    sweep = SweepDir(tmp_path / "s")
    rows = []
    for i in range(6):
        trial = sweep.trial(f"t{i}")
        trial.claim()
        replay_trial(
            spec, spec.trial_config({"model.backbone": "cnn", "optim.lr": 0.001 * (i + 1)}), lambda r: None, trial
        )
        rows.append({"trial_id": f"t{i}", "status": "completed"})
    (sweep.trial("t5").path / "result.json").unlink()  # unfinished: a resumed sweep continues it
    rows[4]["status"] = "stopped"
    freed = drop_unusable(sweep, rows)
    kept = sorted(t.path.name for t in sweep.trial_dirs() if (t.path / "checkpoint.pt").exists())
    assert kept == ["t0", "t1", "t2", "t5"] and freed == 2 * 4 * 1024


def test_the_write_through_study_equals_its_database(tmp_path):
    """The driver's in-memory study (studycache.py) after proposals (half of them committed as one transaction),
    reports, prunes and completions, 8 running: equal to its database once the queued per-epoch values are
    committed; before that, the database lacks only the values reported since the last proposal or state change."""
    import pickle
    from contextlib import nullcontext

    import optuna

    from facebench.sweep.preflight import study_storage
    from facebench.sweep.studycache import WriteThroughStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = WriteThroughStorage(study_storage(url))
    study = optuna.create_study(
        study_name="s",
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5),
    )
    running = []
    for i in range(40):
        with storage.one_commit() if i % 2 else nullcontext():
            trial = study.ask()
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            trial.suggest_categorical("loss", ["ce", "arcface"])
            trial.set_user_attr("facebench_trial_id", f"t{i}")
        trial.report(0.1 * (i % 7), 1)
        running.append(trial)
        if len(running) > 8:
            done = running.pop(0)
            study.tell(done, None if i % 3 else 0.5, state=optuna.trial.TrialState.PRUNED if i % 3 else None)

    def view(s, values=True):
        return [
            (t.number, t.state, t.params, t.values, t.intermediate_values if values else None, t.user_attrs)
            for t in s.get_trials()
        ]

    running[-1].report(0.9, 2)  # queued until the next proposal or state change
    on_disk = optuna.load_study(study_name="s", storage=url)
    assert view(study, values=False) == view(on_disk, values=False)
    assert 2 in study.trials[running[-1].number].intermediate_values
    assert 2 not in on_disk.trials[running[-1].number].intermediate_values
    assert pickle.loads(pickle.dumps(storage))._queued == storage._queued  # Tune pickles searchers (and studies)
    storage.flush()
    assert view(study) == view(optuna.load_study(study_name="s", storage=url))
    with pytest.raises(ValueError), storage.one_commit():  # a changed distribution is refused at once
        study.ask().suggest_categorical("loss", ["ce", "cosface"])


def test_trial_slots_count_what_each_node_holds():
    """8 nodes of 4 CPUs and 2 GPUs hold 32 trials of 1 CPU and 0.5 GPU; the scarcer resource decides per node; a
    trial asking for no GPU is limited by CPUs alone; a node too small for one trial adds none."""
    from facebench.sweep.session import slots_of

    node = {"CPU": 4.0, "GPU": 2.0}
    assert slots_of([node] * 8, 1.0, 0.5) == 32
    assert slots_of([node] * 8, 1.0, 1.0) == 16
    assert slots_of([{"CPU": 2.0}], 1.0, 0.0) == 2
    assert slots_of([{"CPU": 3.0, "GPU": 1.0}, {"CPU": 0.5}], 1.0, 0.3) == 3
    assert slots_of([], 1.0, 0.0) == 1
