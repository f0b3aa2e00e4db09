"""facebench deletes or overwrites only what it created: markers, strict names, --fresh, --overwrite."""

from __future__ import annotations

import json

import pytest

from facebench.errors import ConfigError
from facebench.ownership import MARKER, check_name, claim_dir, remove_owned, remove_stale_temps
from facebench.sweep import Output
from facebench.sweep.runner import _prepare_dir, sweep_paths


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "a\\b", "", "a b", "-x", "x" * 129, "../up"])
def test_names_that_could_leave_the_results_folder_are_refused(name):
    with pytest.raises(ConfigError, match="no slashes, spaces, leading dots"):
        check_name(name, "sweep name")


@pytest.mark.parametrize("name", ["vae", "margin-smoke", "cifar_10", "lr=0.1", "a.b"])
def test_ordinary_names_pass(name):
    assert check_name(name, "sweep name") == name


def _fresh(results, name):
    _prepare_dir(sweep_paths(name, Output(results=str(results))), resume=False, fresh=True)


def test_fresh_on_a_folder_facebench_did_not_create_deletes_nothing(tmp_path):
    mine = tmp_path / "results" / "mysweep"
    (mine / "otherdata").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=f"not created by facebench \\(no {MARKER} marker\\)"):
        _fresh(tmp_path / "results", "mysweep")
    assert (mine / "notes.txt").read_text() == "keep me" and (mine / "otherdata").is_dir()


def test_fresh_removes_only_what_facebench_wrote_in_its_own_folder(tmp_path, capsys):
    results = tmp_path / "results"
    paths = sweep_paths("s", Output(results=str(results)))
    _prepare_dir(paths, resume=False, fresh=False)
    assert json.loads((paths.sweep_dir / MARKER).read_text())["kind"] == "sweep"
    trial = claim_dir(paths.trials / "t1", "trial")
    (trial / "result.json").write_text("{}")
    (trial / "my-plot.png").write_text("user's")  # written by the user inside a trial folder
    (paths.sweep_dir / "ray").mkdir()
    (paths.sweep_dir / "ray" / "experiment_state-2026-01-01_00-00-00.json").write_text("{}")  # Tune's name
    (paths.sweep_dir / "sweep.json").write_text("{}")
    (paths.sweep_dir / "notes.txt").write_text("keep me")
    other = results / "other"  # another sweep beside it is never touched
    claim_dir(other, "sweep")
    (other / "sweep.json").write_text("{}")
    _fresh(results, "s")
    assert (paths.sweep_dir / "notes.txt").read_text() == "keep me"
    assert (trial / "my-plot.png").exists() and not (trial / "result.json").exists()
    assert not (paths.sweep_dir / "ray").exists() and not (paths.sweep_dir / "sweep.json").exists()
    assert (other / "sweep.json").exists()
    assert "kept what facebench did not write" in capsys.readouterr().out


def test_fresh_of_a_sweep_without_user_files_removes_the_folder_and_starts_clean(tmp_path):
    paths = sweep_paths("s", Output(results=str(tmp_path)))
    _prepare_dir(paths, resume=False, fresh=False)
    claim_dir(paths.trials / "t1", "trial")
    (paths.trials / "t1" / "checkpoint.pt").write_bytes(b"x")
    assert remove_owned(paths.sweep_dir) == [] and not paths.sweep_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_results_pointing_at_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="afile: is a file, not a folder"):
        _prepare_dir(sweep_paths("s", Output(results=str(tmp_path / "afile"))), resume=False, fresh=False)
    with pytest.raises(ConfigError, match="afile: is a file, not a folder"):
        claim_dir(tmp_path / "afile", "trial")


def test_stale_temp_files_go_only_in_a_marked_folder(tmp_path):
    (tmp_path / ".checkpoint.pt.abc123.tmp").write_bytes(b"torn")
    assert remove_stale_temps(tmp_path) == []  # not facebench's folder: untouched
    claim_dir(tmp_path / "t", "trial")
    (tmp_path / "t" / ".checkpoint.pt.abc123.tmp").write_bytes(b"torn")
    (tmp_path / "t" / "keep.tmp").write_bytes(b"user's")
    assert remove_stale_temps(tmp_path / "t") == [".checkpoint.pt.abc123.tmp"]
    assert (tmp_path / "t" / "keep.tmp").exists() and (tmp_path / ".checkpoint.pt.abc123.tmp").exists()


# Where a user's notes may sit in a sweep folder, and what facebench (and Tune, in ray/) writes beside them: the
# names a real 2-trial sweep leaves (tests/test_sweep_lock.py runs one and checks --fresh on it too).
WRITTEN = (
    "sweep.json",
    "summary.json",
    "study.db",
    "ray/experiment_state-2026-01-01_00-00-00.json",
    "ray/search_gen_state-2026-01-01_00-00-00.json",
    "ray/searcher-state-2026-01-01_00-00-00.pkl",
    "ray/tuner.pkl",
    "ray/.validate_storage_marker",
    "ray/t1/params.json",
    "ray/t1/params.pkl",
    "ray/t1/result.json",
    "logs/ray/raylet.out",
    "logs/ray/debug_state.txt",
    "logs/ray/events/event_GCS.log",
    "logs/ray-20260101-000000/gcs_server.err",
    "report/index.html",
    "report/trials.parquet",
    "report/best.toml",
    "trials/t1/config.json",
    "trials/t1/checkpoint.pt",
    "trials/t1/artefacts/epochs.parquet",
    "trials/t1/artefacts/verification.npz",
)
NOTES = (
    "notes.txt",
    "report/notes.txt",
    "ray/notes.txt",
    "ray/t1/notes.txt",
    "logs/notes.txt",
    "logs/ray/notes.txt",
    "logs/ray/events/notes.md",
    "trials/notes.txt",
    "trials/t1/notes.txt",
    "trials/t1/artefacts/notes.txt",
    "ray/mine/data.csv",
)


def test_fresh_keeps_a_users_notes_in_every_subfolder_and_removes_the_rest_by_name(tmp_path, capsys):
    results = tmp_path / "results"
    paths = sweep_paths("s", Output(results=str(results)))
    _prepare_dir(paths, resume=False, fresh=False)
    claim_dir(paths.trials / "t1", "trial")
    for name in WRITTEN + NOTES:
        (paths.sweep_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (paths.sweep_dir / name).write_text(name)
    _fresh(results, "s")
    for name in NOTES:
        assert (paths.sweep_dir / name).read_text() == name, name
    for name in WRITTEN:
        assert not (paths.sweep_dir / name).exists(), name
    assert not (paths.sweep_dir / "logs" / "ray-20260101-000000").exists()  # emptied: gone
    out = capsys.readouterr().out
    assert "kept what facebench did not write" in out and "ray/notes.txt" in out


def test_an_unmarked_folder_of_no_known_kind_is_kept_whole(tmp_path):
    sweep = claim_dir(tmp_path / "s", "sweep")
    (sweep / "trials").mkdir()  # unmarked (an older or foreign folder): neither emptied nor removed
    (sweep / "trials" / "x.bin").write_text("?")
    (sweep / "sweep.json").write_text("{}")
    assert remove_owned(sweep) == ["trials/"]
    assert (sweep / "trials" / "x.bin").exists() and not (sweep / "sweep.json").exists()


def test_a_claim_killed_before_its_marker_is_taken_up_again(tmp_path):
    """A trial's worker killed while writing the folder's marker leaves only the marker's temporary file: the
    retry claims the folder (it refused it as the user's, failing the trial); a user's file beside it still
    makes the folder the user's."""
    interrupted = tmp_path / "t1"
    interrupted.mkdir()
    (interrupted / f".{MARKER}.ysvzyl3r.tmp").write_text("")
    claim_dir(interrupted, "trial")
    assert [p.name for p in interrupted.iterdir()] == [MARKER]
    users = tmp_path / "t2"
    users.mkdir()
    (users / f".{MARKER}.abc.tmp").write_text("")
    (users / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not created by facebench"):
        claim_dir(users, "trial")
    assert sorted(p.name for p in users.iterdir()) == [f".{MARKER}.abc.tmp", "notes.txt"]
