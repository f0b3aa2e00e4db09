"""The on-disk layout has one owner (facebench.artefacts), sweep files are plain modules, and every command shares
one error policy (facebench.cli.run_command)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from facebench import artefacts as A
from facebench.cli import main, run_command
from facebench.errors import ConfigError, DataError
from facebench.io import atomic_write_json, read_json

ROOT = Path(__file__).resolve().parents[1]
# Every name of the layout as a quoted literal; the folder names only where a path is built from them.
FILE_NAMES = (
    A.SWEEP_JSON,
    A.SUMMARY_JSON,
    A.STUDY_DB,
    A.MLFLOW_DB,
    A.CONFIG,
    A.META,
    A.EPOCHS_LOG,
    A.RESULT,
    A.RAY_META,
)
FOLDERS = (A.TRIALS, A.RAY_STATE, A.REPORT, A.LOGS)
SPELLED = re.compile(
    r"""(?<!["'])["'](?:%s)["']|(?:/ |join\()["'](?:%s)["']"""
    % ("|".join(map(re.escape, FILE_NAMES)), "|".join(map(re.escape, FOLDERS)))
)


def _spelled(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if SPELLED.search(line)]


# The modules that read and write sweep folders (the stages write a trial folder only through TrialDir).
READERS = [
    "facebench/sweep",
    "facebench/report/collect.py",
    "facebench/ownership.py",
    "facebench/storage.py",
    "facebench/cli.py",
    "facebench/io.py",
    "facebench/engine/trial.py",
]


def test_layout_names_are_spelled_only_in_artefacts():
    found = {}
    for where in READERS:
        for path in sorted((ROOT / where).rglob("*.py")) if (ROOT / where).is_dir() else [ROOT / where]:
            if hits := _spelled(path.read_text(encoding="utf-8")):
                found[str(path.relative_to(ROOT))] = hits
    assert not found, f"layout names spelled outside facebench/artefacts.py: {found}"


def test_the_layout_scan_can_fail():
    assert _spelled('record = read_json(trial_dir / "result.json")\nout = Path(d) / "report"\nloc.join("trials")')
    assert not _spelled('summary["trials"]  # a key, not a path\nprint("see the report")\n"""result.json\'s key"""')


def test_sweep_files_are_not_run_as_scripts():
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "facebench" / "sweep").glob("*.py"))
    for banned in ("runpy", "sys.argv =", "main_calls", "extract_tb"):
        assert banned not in source


# -- sweep files ------------------------------------------------------------------------------------------------

SWEEP = """
from functools import partial
from facebench.sweep import SweepSpec, main, space

SPEC = SweepSpec(name="m", task="face", base={"train.epochs": 1}, space=partial(space.fixed, values={}))
RAN = []
if __name__ == "__main__":
    raise SystemExit(main(SPEC))
"""


def test_a_sweep_file_is_imported_as_a_module_exposing_spec(tmp_path):
    from facebench.sweep.spec import load_sweep_file

    (tmp_path / "m.py").write_text(SWEEP)
    spec = load_sweep_file(str(tmp_path / "m.py"))  # its __main__ block does not run (it would start a sweep)
    assert spec.name == "m" and spec.task == "face"
    (tmp_path / "none.py").write_text("SPEC = 3\n")
    with pytest.raises(ConfigError, match=r"none.py: defines no SPEC .* \(found int\)"):
        load_sweep_file(str(tmp_path / "none.py"))
    (tmp_path / "boom.py").write_text("raise RuntimeError('no GPU here')\n")
    with pytest.raises(ConfigError, match="boom.py: RuntimeError: no GPU here") as info:
        load_sweep_file(str(tmp_path / "boom.py"))
    assert isinstance(info.value.__cause__, RuntimeError)  # kept for --debug


# -- one error policy -------------------------------------------------------------------------------------------


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["train", "--set", "loss.no_such_key=1"], "loss.no_such_key"),
        (["report", "{tmp}/nowhere", "--out", "{tmp}/r"], "nowhere"),
        (["confirm", "{tmp}"], A.SUMMARY_JSON),
        (["sweep", "{tmp}/m.py", "--profile", "gpu", "--local"], "--profile 'gpu': sweep 'm' has no profiles"),
        (["sweep", "{tmp}/m.py", "--log", "wandb"], "--log 'wandb'"),
        (["data", "check", "{tmp}/nothing"], "nothing"),
    ],
)
def test_every_command_turns_a_user_error_into_one_line_and_exit_2(tmp_path, capsys, argv, expect):
    (tmp_path / "m.py").write_text(SWEEP)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = _one_line(capsys)
    assert err.startswith("facebench: error: ") and expect in err


def test_a_sweep_file_run_as_a_script_shares_the_policy(tmp_path, capsys):
    from facebench.sweep import main as sweep_main
    from facebench.sweep.spec import load_sweep_file

    (tmp_path / "m.py").write_text(SWEEP)
    assert sweep_main(load_sweep_file(str(tmp_path / "m.py")), ["--profile", "cpu"]) == 2
    assert "--profile 'cpu'" in _one_line(capsys)


def test_interrupt_is_130_and_debug_keeps_the_traceback(capsys):
    import argparse

    def interrupted(args):
        raise KeyboardInterrupt

    assert run_command(interrupted, argparse.Namespace(on_interrupt="continue with --resume")) == 130
    assert "interrupted; continue with --resume" in capsys.readouterr().err

    def bad(args):
        raise ConfigError("x: bad")

    assert run_command(bad, argparse.Namespace()) == 2
    with pytest.raises(ConfigError):
        run_command(bad, argparse.Namespace(debug=True))
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_command(lambda a: 1 / 0, argparse.Namespace())


# -- folders written before the layout version --------------------------------------------------------------------


def _sweep_folder(path: Path, *, version: object) -> A.SweepDir:
    """A sweep folder through the real writers; ``version`` None drops layout_version as facebench did before."""
    sweep = A.SweepDir(path)
    sweep.trials.mkdir(parents=True)
    sweep.write_spec({"name": "old", "task": "face", "metric": "val_accuracy", "mode": "max"})
    spec = sweep.read_spec()
    if version is None:
        spec.pop("layout_version")
    else:
        spec["layout_version"] = version
    atomic_write_json(sweep.spec_file, spec)
    trial = sweep.trial("t1")
    trial.start({"task": "face", "name": "old/t1", "train.seed": 0}, {"trial_id": "t1"})
    trial.write_result({"status": A.COMPLETED, "metrics": {"objective": 0.7}})
    return sweep


def test_an_old_sweep_folder_still_reads(tmp_path):
    from facebench.report.collect import collect
    from facebench.sweep.resume import check_resumable

    sweep = _sweep_folder(tmp_path / "old", version=None)
    assert "layout_version" not in read_json(sweep.spec_file)
    assert sweep.read_spec()["name"] == "old"
    check_resumable(sweep)
    found = collect([str(sweep.path)])
    assert [t.trial_id for t in found.trials] == ["t1"] and found.sweeps[0].name == "old"
    assert [t.final_result()["status"] for t in sweep.trial_dirs()] == [A.COMPLETED]


def test_a_newer_layout_is_refused_in_one_line(tmp_path, capsys):
    sweep = _sweep_folder(tmp_path / "new", version=A.LAYOUT_VERSION + 1)
    with pytest.raises(DataError, match=f"sweep layout version {A.LAYOUT_VERSION + 1}.*upgrade"):
        sweep.read_spec()
    assert main(["report", str(sweep.path), "--out", str(tmp_path / "r")]) == 2
    assert "layout version" in _one_line(capsys)
    assert main(["confirm", str(sweep.path)]) == 2
    assert "layout version" in _one_line(capsys)


# -- display names --------------------------------------------------------------------------------------------


def test_every_loss_backbone_optimizer_and_schedule_declares_its_display_name():
    from facebench.registry import display_name, load_all

    registries = load_all()
    for kind in ("loss", "backbone", "optimizer", "scheduler"):
        assert all(v.display for v in registries[kind].variants()), kind
    assert display_name("model.backbone", "iresnet50") == "IResNet-50"
    assert display_name("loss.name", "curricularface") == "CurricularFace"
    assert display_name("optim.name", "adamw") == "AdamW"
    assert display_name("loss.name", "no-such-loss") is None


def test_confirmation_labels_use_the_registry_names():
    from facebench.sweep.confirm import Recipe, _label

    recipes = [
        Recipe("", "a", {"loss.name": "arcface", "model.backbone": "iresnet50"}, 0.9),
        Recipe("", "b", {"loss.name": "cosface", "model.backbone": "resnet18"}, 0.8),
    ]
    _label(recipes, None)
    assert [r.label for r in recipes] == ["ArcFace IResNet-50", "CosFace ResNet-18"]
