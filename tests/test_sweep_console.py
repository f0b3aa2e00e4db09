"""What a sweep shows and where it reports, on a real tiny sweep with its own private Ray: one progress line
instead of Ray's table, Ray's logs in the sweep folder, and TensorBoard / MLflow through Tune's own loggers
read back with the real packages."""

from __future__ import annotations

import io
from functools import partial

import pytest

from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE

pytestmark = pytest.mark.slow


def test_progress_line_known_answer():
    from facebench.sweep.progress import ProgressLine

    line = ProgressLine(name="vae", metric="val_accuracy", mode="max", total=8, stream=io.StringIO())
    line.best, line.best_trial = 0.71234, "ab12"
    assert line.format(done=3, running=2, failed=1, elapsed=125.0) == (
        "vae  4/8 trials done, 2 running, 1 failed  best val_accuracy 0.7123 (ab12)  2 min 05 s, ETA 2 min 05 s")


def test_tiny_sweep_console_logs_and_trackers(tmp_path, capfd, monkeypatch):
    pytest.importorskip("tensorboardX")
    mlflow = pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from facebench.sweep import main

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    spec = SweepSpec(name="tiny", task="face",
                     base={**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "ce", "train.epochs": 2},
                     space=partial(space.fixed, values={}, lr=(1e-3, 1e-2)), num_samples=2, scheduler="fifo")
    rc = main(spec, ["--local", "--results", str(tmp_path), "--log", "tensorboard,mlflow"])
    out = capfd.readouterr().out
    assert rc == 0
    sweep = tmp_path / "tiny"
    lines = [ln for ln in out.splitlines() if ln.startswith("tiny  ")]
    assert lines and lines[-1].startswith("tiny  2/2 trials done, 0 running, 0 failed  best val_accuracy (best epoch) 0.")
    assert "== Status ==" not in out and "Result logdir" not in out   # Ray's table only with --verbose
    assert "val_accuracy (best epoch)" in out.split("rank  trial", 1)[1].splitlines()[0]   # the final table's header
    assert (sweep / "logs" / "ray" / "raylet.out").is_file()   # Ray's own logs beside the results
    # TensorBoard: Tune's TBX logger, one event file per trial under <sweep>/ray/<trial>.
    events = sorted((sweep / "ray").glob("*/events.out.tfevents.*"))
    assert len(events) == 2
    acc = EventAccumulator(str(events[0].parent)).Reload()
    assert len(acc.Scalars("ray/tune/val_accuracy")) == 2
    # MLflow: one run per trial in the default SQLite store, full trial config as parameters.
    client = mlflow.MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tiny")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert {r.data.params["model.backbone"] for r in runs} == {"cnn"} and "optim.lr" in runs[0].data.params
    assert 0.0 <= runs[0].data.metrics["val_accuracy"] <= 1.0
    assert len(client.get_metric_history(runs[0].info.run_id, "val_accuracy")) == 2
