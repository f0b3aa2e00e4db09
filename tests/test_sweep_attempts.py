"""Attempts of one trial and the trial's uploads, in-process through the trainable's own code (``run_attempt``, which
``train_trial`` calls under Ray): a superseded attempt cannot clobber the current one, and uploads to a bucket run
off the training thread. Pauses and kills come from facebench.faults; the bucket is moto's S3 server on loopback."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from facebench import faults
from facebench.artefacts import ATTEMPT, CHECKPOINT, EPOCHS_LOG, RESULT, SweepDir, TrialDir
from facebench.attempts import StaleAttempt
from facebench.storage import resolve
from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE
from facebench.sweep.trainable import TrialFailed, TrialSetup, run_attempt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import S3_ENV, create_bucket, moto_server  # noqa: E402

TRIAL = "t0001"
PARAMS = {"optim.lr": 0.005}


def _spec(epochs: int = 2) -> SweepSpec:
    return SweepSpec(
        name="attempts",
        task="face",
        base={**SMOKE_FACE, "train.epochs": epochs},
        space=partial(space.fixed, values={}),
        num_samples=1,
        scheduler="fifo",
        cpus_per_trial=1,
    )


def _pause_at(monkeypatch, tmp_path: Path, point: str) -> Path:
    folder = tmp_path / "pause"
    folder.mkdir()
    monkeypatch.setenv(faults.PAUSE, f"{point}:1")
    monkeypatch.setenv(faults.PAUSE_DIR, str(folder))
    monkeypatch.setattr(faults, "_passes", {})
    return folder


def _wait_for(marker: Path, thread: threading.Thread) -> None:
    """Until the paused thread has written its marker (a condition it sets; the join bounds a thread that died)."""
    while not marker.exists():
        assert thread.is_alive(), "the paused attempt ended before reaching its fault point"
        thread.join(0.05)


def _files(trial: Path) -> dict[str, bytes]:
    return {name: (trial / name).read_bytes() for name in (RESULT, EPOCHS_LOG, CHECKPOINT, ATTEMPT)}


def test_a_superseded_attempt_cannot_clobber_the_current_one(tmp_path, monkeypatch):
    """Attempt 1 pauses after its first epoch (a node cut off by a partition); attempt 2 of the same trial starts,
    continues from the checkpoint and finishes; then attempt 1 wakes up and goes on writing. Its writes are refused
    (StaleAttempt, in that attempt), attempt 2's files are byte-for-byte intact and the summary counts one trial."""
    pause = _pause_at(monkeypatch, tmp_path, "reported")
    sweep = SweepDir(tmp_path / "sweep")
    setup = TrialSetup(spec=_spec(), trials_root=str(sweep.trials))
    outcome: dict = {}

    def old_attempt() -> None:
        try:
            outcome["result"] = run_attempt(dict(PARAMS), setup, TRIAL, lambda row: None, node_id="node-a")
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome["error"] = e

    old = threading.Thread(target=old_attempt)
    old.start()
    _wait_for(pause / f"{TRIAL}.json", old)
    first = TrialDir(sweep.trials / TRIAL).read_attempt()
    new_rows: list[dict] = []
    result = run_attempt(dict(PARAMS), setup, TRIAL, new_rows.append, node_id="node-b")
    assert result["status"] == "completed" and [r["epoch"] for r in new_rows] == [2]  # resumed after epoch 1
    trial = TrialDir(sweep.trials / TRIAL)
    current = trial.read_attempt()
    assert current["number"] == 2 and current["retry"] == 1 and current["superseded"] == [first["attempt_id"]]
    assert current["attempt_id"] != first["attempt_id"] and current["node_id"] == "node-b"
    assert result["attempt"] == current["attempt_id"] == trial.read_ray_meta()["attempt_id"]
    kept = _files(trial.path)

    (pause / "release").touch()
    old.join()
    assert isinstance(outcome.get("error"), StaleAttempt), outcome
    assert first["attempt_id"] in str(outcome["error"]) and current["attempt_id"] in str(outcome["error"])
    assert _files(trial.path) == kept  # not one byte of the current attempt's files changed
    assert json.loads((trial.path / RESULT).read_text())["attempt"] == current["attempt_id"]

    from facebench.sweep.runner import SweepPaths
    from facebench.sweep.summary import summarize

    paths = SweepPaths(sweep, str(sweep.path), f"sqlite:///{sweep.study_file}")
    summary = summarize(setup.spec, paths, [], wall_s=1.0, earlier=[TRIAL])
    assert summary["counts"] == {"completed": 1, "stopped": 0, "failed": 0}
    assert [(t["trial_id"], t["attempts"]) for t in summary["trials"]] == [(TRIAL, 2)]


def test_the_check_fails_only_for_another_attempt(tmp_path):
    """The lease check itself: no lease (an old folder) or no attempt id (the CLI) writes as before."""
    old_folder = TrialDir(tmp_path / "old")
    old_folder.write_result({"status": "completed"})  # no attempt.json: reads and writes as before
    assert old_folder.final_result() == {"status": "completed"} and old_folder.read_attempt() == {}
    a, b = TrialDir(tmp_path / "t"), TrialDir(tmp_path / "t")
    a.begin_attempt()
    a.write_result({"status": "stopped"})
    b.begin_attempt()
    with pytest.raises(StaleAttempt, match="superseded"):
        a.write_result({"status": "completed"})
    TrialDir(tmp_path / "t").write_result({"status": "failed"})  # a reader/CLI without an attempt id
    assert b.read_result() == {"status": "failed"}


@pytest.fixture(scope="module")
def bucket():
    saved = dict(os.environ)
    with moto_server() as endpoint:
        create_bucket(endpoint, "fbattempts")
        os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint})
        try:
            yield "s3://fbattempts"
        finally:
            os.environ.clear()
            os.environ.update(saved)


def test_uploads_run_off_the_training_thread_and_the_newest_files_win(bucket, tmp_path, monkeypatch):
    """The uploader pauses at its first upload (a slow network) while the trial trains all three epochs: training
    never waits on it. Released, the requests have coalesced and the bucket holds the final files."""
    pause = _pause_at(monkeypatch, tmp_path, "upload")
    setup = TrialSetup(
        spec=_spec(epochs=3), trials_root=str(tmp_path / "trials"), remote_trials=f"{bucket}/off-thread/trials"
    )
    rows: list[dict] = []
    outcome: dict = {}

    def attempt() -> None:
        outcome["result"] = run_attempt(dict(PARAMS), setup, TRIAL, rows.append)

    worker = threading.Thread(target=attempt)
    worker.start()
    _wait_for(pause / f"{TRIAL}.json", worker)
    # Paused in the uploader; the trial is not blocked: it trains all its epochs and runs its test (result.json
    # written locally), and waits only in finish(). Its last epoch reaches Tune after that, once everything is
    # written and uploaded (a stop then cannot lose a finished trial). The deadline is a hang guard for an uploader
    # that blocks training, not a speed assertion.
    local = tmp_path / "trials" / TRIAL
    deadline = time.monotonic() + 120
    while not (local / RESULT).exists() and worker.is_alive() and time.monotonic() < deadline:
        worker.join(0.05)
    assert (local / RESULT).exists() and len((local / EPOCHS_LOG).read_text().splitlines()) == 3
    assert [r["epoch"] for r in rows] == [1, 2]
    assert not (tmp_path / "pause" / "release").exists()
    (pause / "release").touch()
    worker.join()
    assert outcome["result"]["status"] == "completed" and [r["epoch"] for r in rows] == [1, 2, 3]
    remote = resolve(f"{bucket}/off-thread/trials/{TRIAL}")
    for name in (RESULT, EPOCHS_LOG, CHECKPOINT, ATTEMPT):
        assert remote.join(name).read_bytes() == (local / name).read_bytes(), name  # the newest versions


def test_a_failed_upload_fails_the_trial_with_its_reason(bucket, tmp_path):
    """A bucket that does not exist (moto answers NoSuchBucket): training is not held up, and at the trial's end
    it fails with the upload's reason instead of losing the files silently."""
    setup = TrialSetup(spec=_spec(), trials_root=str(tmp_path / "trials"), remote_trials="s3://fbmissing/x/trials")
    rows: list[dict] = []
    with pytest.raises(TrialFailed, match="upload to s3://fbmissing/x/trials/t0001 failed"):
        run_attempt(dict(PARAMS), setup, TRIAL, rows.append)
    assert [r["epoch"] for r in rows] == [1, 2]
    record = TrialDir(tmp_path / "trials" / TRIAL).read_result()
    assert record["status"] == "failed" and record["reason"].startswith("upload to s3://fbmissing")
