"""facebench.artefacts, the trial directory's one reader and writer: tables, arrays, their refusals."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from facebench import artefacts as A
from facebench.errors import DataError


def test_tables_are_typed_versioned_and_read_as_one_dataset(tmp_path):
    dirs = [tmp_path / f"t{i}" / "artefacts" for i in range(3)]
    A.write_table(dirs[0], "epochs", A.rows_to_columns([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2}]))
    A.write_table(dirs[1], "epochs", {"epoch": [1], "train_loss": [1.5], "train_margin": [0.3]})  # a newer loss
    A.write_table(dirs[2], "epochs", {})  # a trial with no epoch yet: the fixed columns, no rows
    table, notes = A.read_tables("epochs", [str(d) for d in dirs])
    assert not notes and table.num_rows == 3
    assert table.schema.field("epoch").type == pa.int64() and table.schema.field("val_auc").type == pa.float64()
    assert table.column("schema_version").to_pylist() == [A.SCHEMA_VERSION] * 3
    rows = table.select(["trial_index", "epoch", "train_loss", "train_margin"]).to_pylist()
    assert sorted(rows, key=lambda r: (r["trial_index"], r["epoch"])) == [
        {"trial_index": 0, "epoch": 1, "train_loss": 2.0, "train_margin": None},
        {"trial_index": 0, "epoch": 2, "train_loss": None, "train_margin": None},
        {"trial_index": 1, "epoch": 1, "train_loss": 1.5, "train_margin": 0.3},
    ]
    own = pq.read_table(A.table_path(dirs[0], "epochs"))
    assert own.schema.metadata[b"facebench.table"] == b"epochs"
    assert own.schema.metadata[b"facebench.schema_version"] == str(A.SCHEMA_VERSION).encode()


def test_an_unreadable_table_is_named_and_the_rest_is_read(tmp_path):
    good, bad = tmp_path / "a", tmp_path / "b"
    A.write_table(good, "confusion", A.confusion_columns([[3, 1], [0, 2]], ["cat", "dog"]))
    bad.mkdir()
    A.table_path(bad, "confusion").write_bytes(b"PAR1 cut short")
    table, notes = A.read_tables("confusion", [str(good), str(bad)])
    assert table.column("trial_index").to_pylist() == [0] * 4
    assert table.column("count").to_pylist() == [3, 1, 0, 2] and table.column("pred").to_pylist()[1] == "dog"
    assert len(notes) == 1 and str(A.table_path(bad, "confusion")) in notes[0]


def test_npz_arrays_load_without_pickles_and_damage_is_a_data_error(tmp_path):
    A.save_npz(tmp_path / "ok.npz", compressed=True, x=np.arange(3), name=np.array("s"))
    got = A.load_npz(tmp_path / "ok.npz")
    assert got["x"].tolist() == [0, 1, 2] and str(got["name"]) == "s"
    assert A.load_npz((tmp_path / "ok.npz").read_bytes(), name="remote")["x"].tolist() == [0, 1, 2]
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="obj.npz: not a readable .npz file"):
        A.load_npz(tmp_path / "obj.npz")  # an object array would need unpickling: refused
    (tmp_path / "cut.npz").write_bytes((tmp_path / "ok.npz").read_bytes()[:40])
    with pytest.raises(DataError, match="cut.npz"):
        A.load_npz(tmp_path / "cut.npz")


def test_verification_npz_names_what_is_missing(tmp_path):
    np.savez(tmp_path / "v.npz", scores=np.zeros(4), same=np.ones(4, bool))
    with pytest.raises(DataError, match="missing array 'fold'"):
        A.read_verification_npz(tmp_path / "v.npz")
    with pytest.raises(DataError, match="verification artefact not found"):
        A.read_verification_npz(tmp_path)


def test_a_marking_pull_does_not_bring_back_a_file_removed_on_purpose(tmp_path):
    """The driver's final push marks what the bucket already holds; a checkpoint the retention dropped locally
    stays dropped (a real pull still fetches it)."""
    from facebench.storage import Mirror, resolve

    local, remote = tmp_path / "sweep", tmp_path / "bucket"
    (local / "t1").mkdir(parents=True)
    (local / "t1" / "checkpoint.pt").write_bytes(b"x" * 64)
    (local / "t1" / "result.json").write_text("{}")
    assert Mirror(local, resolve(str(remote))).push() == 2
    (local / "t1" / "checkpoint.pt").unlink()
    marking = Mirror(local, resolve(str(remote)))
    assert marking.pull(download=False) == 0 and not (local / "t1" / "checkpoint.pt").exists()
    assert marking.push() == 0  # result.json was marked as already there
    assert Mirror(local, resolve(str(remote))).pull() == 1 and (local / "t1" / "checkpoint.pt").exists()
