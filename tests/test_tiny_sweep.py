"""One real tiny sweep (Ray Tune + Optuna + the engine, its own private Ray): a VAE, a plain AE and a denoising
AE, one seed each, one schedule and one image size for all, run as a sweep file runs (``main``) with
``--log tensorboard,mlflow``. Checked on its output:

- the console: one progress line, no Ray table, a final table headed "best val_accuracy", Ray's logs in the
  sweep folder; TensorBoard event files and MLflow runs read back with the real packages;
- the report, one check per item a new user tripped over: importance labels clipped and never-varied parameters
  listed with zero bars; a legend over the curves; an "over seeds" table of n = 1 rows with 17-digit labels and
  ``nan``; plain autoencoders in the KL / beta / posterior-collapse plots; constant factors in every factor
  label; empty sections without a word of why."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re

import pandas as pd
import pytest

from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_AUTOENCODER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the fixture runs a real sweep


TRACKERS = all(importlib.util.find_spec(m) for m in ("tensorboardX", "tensorboard", "mlflow"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(sweep folder, console output) of the sweep, run as ``python sweeps/X.py --local --log ...`` runs it."""
    from facebench.sweep import main

    root = tmp_path_factory.mktemp("runs")
    vae_space = space.VAE(
        backbones=("vae", "ae", "dae"),
        latent_sizes=(16, 32),
        image_sizes=(32,),
        schedules=("cosine",),
        batch_sizes=(32,),
        epochs=2,
    )
    spec = SweepSpec(
        name="tiny-ae",
        task="autoencoder",
        base={**SMOKE_AUTOENCODER, "train.epochs": 2},
        space=vae_space,
        num_samples=3,
        scheduler="fifo",
        cover=True,
    )  # cover: vae, ae and dae
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        rc = main(spec, ["--local", "--results", str(root)] + (["--log", "tensorboard,mlflow"] if TRACKERS else []))
    assert rc == 0, out.getvalue()[-3000:]
    return root / "tiny-ae", out.getvalue()


@pytest.fixture(scope="module")
def sweep(run):
    index = run[0] / "report" / "index.html"  # the report every sweep ends with
    return index, pd.read_parquet(index.parent / "trials.parquet"), pd.read_parquet(index.parent / "epochs.parquet")


def test_progress_line_known_answer():
    from facebench.sweep.progress import ProgressLine

    line = ProgressLine(name="vae", mode="max", total=8, label="val_accuracy", stream=io.StringIO())
    line.best, line.best_trial = 0.71234, "ab12"
    assert line.format(done=3, running=2, failed=1, elapsed=125.0) == (
        "vae  4/8 trials done, 2 running, 1 failed  best val_accuracy 0.7123 (ab12)  2 min 05 s, ETA 2 min 05 s"
    )


def test_console_shows_one_progress_line_and_ray_logs_stay_in_the_sweep(run):
    sweep, out = run
    lines = [ln for ln in out.splitlines() if ln.startswith("tiny-ae  ")]
    # "best" is the sweep's declared objective, named as the summary and the report name it.
    assert lines and lines[-1].startswith(
        "tiny-ae  3/3 trials done, 0 running, 0 failed  best val_accuracy (best epoch) 0."
    )
    assert "== Status ==" not in out and "Result logdir" not in out  # Ray's table only with --verbose
    assert "val_accuracy (best epoch)" in out.split("rank  trial", 1)[1].splitlines()[0]  # the final table's header
    assert (sweep / "logs" / "ray" / "raylet.out").is_file()  # Ray's own logs beside the results


@pytest.mark.skipif(not TRACKERS, reason="needs the trackers extra: pip install 'facebench[trackers]'")
def test_tensorboard_and_mlflow_hold_every_trial(run):
    import mlflow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep = run[0]
    # TensorBoard: Tune's TBX logger, one event file per trial under <sweep>/ray/<trial>.
    events = sorted((sweep / "ray").glob("*/events.out.tfevents.*"))
    assert len(events) == 3
    assert len(EventAccumulator(str(events[0].parent)).Reload().Scalars("ray/tune/val_accuracy")) == 2
    # MLflow: one run per trial in the default SQLite store, the full trial config as parameters.
    client = mlflow.MlflowClient(f"sqlite:///{sweep / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny-ae").experiment_id])
    assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs)
    assert {r.data.params["model.backbone"] for r in runs} == {"vae", "ae", "dae"}
    assert "optim.lr" in runs[0].data.params and 0.0 <= runs[0].data.metrics["val_accuracy"] <= 1.0
    assert len(client.get_metric_history(runs[0].info.run_id, "val_accuracy")) == 2


def _ranked(trials):
    from facebench.report.stats import rank_trials

    return rank_trials(trials)


def _section(page: str, key: str) -> str:
    return page.split(f'<section id="{key}">', 1)[1].split("</section>", 1)[0]


def test_importances_leave_out_constant_parameters_and_keep_labels_whole(sweep):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from facebench.report.history import importance_figure

    page = sweep[0].read_text()
    # schedule.name (one choice) and data.image_size never varied: said in a note, not drawn as zero bars.
    assert re.search(
        r"parameter importances leave out \d+ parameter\(s\) that never varied or that the run forced: "
        r".*schedule\.name",
        page,
    )
    fig = importance_figure({"schedule.warmup_epochs": 0.5, "optim.lr@adamw": 0.3, "model.embedding_size": 0.2})
    renderer = FigureCanvasAgg(fig).get_renderer()
    width = fig.bbox.width
    for label in fig.axes[0].get_yticklabels():
        box = label.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width, f"{label.get_text()!r} is clipped"


def test_curve_legend_covers_no_panel(sweep):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from facebench.report.plots import curves_figure

    _, trials, epochs = sweep
    series = [(f"{i}. {t}", g) for i, (t, g) in enumerate(epochs.groupby("trial_id"))]
    fig = curves_figure(series, ("train_loss", "val_accuracy"))
    renderer = FigureCanvasAgg(fig).get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"


def test_over_seeds_table_only_with_repeats_and_labels_read(sweep):
    from facebench.report.stats import recipe_labels

    page, trials = sweep[0].read_text(), sweep[1]
    stats = _section(page, "statistics")
    assert "no configuration ran with more than one seed" in stats and "n_seeds" not in stats
    labels = recipe_labels(trials[trials["status"] == "completed"])
    for label in labels:
        assert "nan" not in label, label  # a key the trial does not use is left out, not "loss.h=nan"
        for value in re.findall(r"=(\d[\d.]*)", label):  # floats to 4 significant digits, never 17
            assert len(value.replace(".", "").lstrip("0")) <= 4, label
    # A key only some configs have (AdaFace's loss.h beside other losses: NaN in the table) is left out.
    done = trials[trials["status"] == "completed"]
    h = [0.333] + [float("nan")] * (len(done) - 1)
    labels = recipe_labels(done.assign(**{"cfg.loss.h": h}))
    assert "loss.h=0.333" in labels.iloc[0] and all("loss.h" not in x for x in labels.iloc[1:])


def test_vae_plots_only_for_vae_trials(sweep):
    from facebench.report import vae as plots

    _, trials, epochs = sweep
    ranked = _ranked(trials)
    assert set(plots.vae_only(ranked)["cfg.model.backbone"]) == {"vae"}
    plain = ranked[ranked["cfg.model.backbone"] != "vae"]
    assert plots.plot_vae_components(plain, epochs) == [] and plots.plot_rate_distortion(plain, epochs) == []
    assert len(plots.plot_vae_components(ranked, epochs)) == 1 and len(plots.plot_rate_distortion(ranked, epochs)) == 1


def test_factor_plots_need_the_tables_trials(sweep):
    """The factor plots draw the effects table's data (every sweep trial at the common epoch): 3 trials are below
    its minimum, so there is no factor plot and the section says why instead of plotting single runs' test scores."""
    from facebench.report import effects, factorplots

    _, trials, epochs = sweep
    ranked = _ranked(trials)
    assert len(ranked) < effects.MIN_TRIALS and factorplots.plot_factor_effects(ranked, epochs) == []


def test_empty_sections_say_why(sweep):
    page = sweep[0].read_text()
    # no classification trial in an autoencoder sweep: the section says so (facebench.report.sections)
    assert "no completed classification trials (task cifar)" in _section(page, "confusion")
    assert "no data for this section" not in page
