"""Trial records -> five long-format Arrow tables with a versioned schema (documented in docs/report.md).

``trials`` (one row per trial), ``epochs`` (per trial-epoch), ``folds`` (per trial-split-fold), ``roc``
(downsampled points per trial-split) and ``confusion`` (trial, true, pred, count). Every table carries
``schema_version`` as a column and in its Parquet metadata, so tables written by different facebench
versions can be told apart after they are concatenated.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import typing
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .collect import TrialRecord
from .storage import Location

SCHEMA_VERSION = 1
TABLES = ("trials", "epochs", "folds", "roc", "confusion")
ROC_POINTS = 100  # per trial and split; enough for a smooth curve, small for 1,000 trials

FACE_METRICS = ("test_accuracy_mean", "test_accuracy_std", "test_accuracy_sem", "test_auc", "test_eer",
                "test_tar_far_1e-1", "test_tar_far_1e-2", "test_tar_far_1e-3", "test_intersection_accuracy_mean")
CIFAR_METRICS = ("test_accuracy", "test_macro_precision", "test_macro_recall", "test_macro_f1", "test_auroc",
                 "test_auprc")
COMMON_METRICS = ("best_val_accuracy", "params", "flops", "train_s", "test_kld")
FINAL_METRICS = FACE_METRICS + CIFAR_METRICS + COMMON_METRICS
EPOCH_METRICS = ("lr", "train_loss", "train_recon", "train_kld", "train_beta", "train_accuracy", "images_per_s",
                 "epoch_s", "peak_mem_mb", "val_accuracy", "val_auc", "val_loss")
VERSION_KEYS = ("python", "torch", "facebench", "git")
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. (2016): a latent unit is active if Var_x(E[z|x]) > 0.01

_KEY = [("schema_version", pa.int32()), ("sweep", pa.string()), ("trial_id", pa.string())]
TRIALS_FIXED = _KEY + [
    ("name", pa.string()), ("task", pa.string()), ("status", pa.string()), ("reason", pa.string()),
    ("seed", pa.int64()), ("score", pa.float64()), ("score_metric", pa.string()), ("epochs_run", pa.int64()),
    ("wall_s", pa.float64()), ("device", pa.string()), ("host", pa.string()), ("started_at", pa.string()),
    *[(f"version.{k}", pa.string()) for k in VERSION_KEYS], ("path", pa.string()),
    *[(m, pa.float64()) for m in FINAL_METRICS],
    ("latent_dims", pa.int64()), ("active_units", pa.int64()),
]
EPOCHS_FIXED = _KEY + [("epoch", pa.int64())] + [(m, pa.float64()) for m in EPOCH_METRICS]
FOLDS_FIXED = _KEY + [("split", pa.string()), ("fold", pa.int64()), ("n_pairs", pa.int64()),
                      ("threshold", pa.float64()), ("accuracy", pa.float64()),
                      ("intersection_threshold", pa.float64()), ("intersection_accuracy", pa.float64())]
ROC_FIXED = _KEY + [("split", pa.string()), ("point", pa.int64()), ("fpr", pa.float64()), ("tpr", pa.float64()),
                    ("threshold", pa.float64())]
CONFUSION_FIXED = _KEY + [("true", pa.string()), ("pred", pa.string()), ("true_index", pa.int64()),
                          ("pred_index", pa.int64()), ("count", pa.int64())]
FIXED = {"trials": TRIALS_FIXED, "epochs": EPOCHS_FIXED, "folds": FOLDS_FIXED, "roc": ROC_FIXED,
         "confusion": CONFUSION_FIXED}


def primary_metric(task: str) -> str:
    """The test metric a trial is summarised by: verification accuracy, or CIFAR accuracy."""
    return "test_accuracy" if task == "cifar" else "test_accuracy_mean"


# -- building -----------------------------------------------------------------------------------

def build_tables(trials: list[TrialRecord]) -> dict[str, pa.Table]:
    """Every table for these trials; artefacts that cannot be read become notes on their trial.

    Each trial contributes column blocks (dicts of equal-length lists) that are joined once at the end,
    so the cost per trial is a few dict operations per column, not per cell.
    """
    blocks: dict[str, list[tuple[int, dict[str, list]]]] = {t: [] for t in TABLES}
    # Threads overlap file reads (remote stores, cold caches), zlib and numpy sorts (which release the GIL); the
    # rest is GIL-bound Python, so more than 2 threads only add switching. map keeps the trial order.
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        for added in pool.map(_trial_blocks, trials):
            for name, block in added:
                blocks[name].append(block)
    return {name: _to_table(name, _join(blocks[name])) for name in TABLES}


def _trial_blocks(rec: TrialRecord) -> list[tuple[str, tuple[int, dict[str, list]]]]:
    added = [("trials", (1, {k: [v] for k, v in _trial_row(rec).items()})), ("epochs", _epoch_block(rec))]
    out = []
    for name, (n, cols) in added + _artefact_blocks(rec):
        key = {"schema_version": [SCHEMA_VERSION] * n, "sweep": [rec.sweep] * n, "trial_id": [rec.trial_id] * n}
        out.append((name, (n, {**key, **cols})))
    return out


def _join(blocks: list[tuple[int, dict[str, list]]]) -> dict[str, list]:
    keys: dict[str, None] = {}
    for _, cols in blocks:
        keys.update(dict.fromkeys(cols))
    out: dict[str, list] = {}
    for key in keys:
        col: list = []
        for n, cols in blocks:
            col.extend(cols[key] if key in cols else [None] * n)
        out[key] = col
    return out


def _trial_row(rec: TrialRecord) -> dict[str, Any]:
    result, meta, cfg = rec.result or {}, rec.meta, rec.config
    task = str(cfg.get("task") or meta.get("task") or "")
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    status, reason = _status(rec)
    seed = meta.get("seed", cfg.get("train.seed"))
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    values: dict[str, Any] = {
        "name": str(cfg.get("name") or meta.get("name") or ""), "task": task, "status": status, "reason": reason,
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "score": _num(metrics.get(primary_metric(task))), "score_metric": primary_metric(task),
        "epochs_run": len(rec.epochs), "wall_s": _num(result.get("wall_s")),
        "device": _str(meta.get("device")), "host": _str(meta.get("host")), "started_at": _str(meta.get("started_at")),
        "path": rec.loc.uri,
    }
    values.update({f"version.{k}": _str(v) for k, v in versions.items()})
    values.update({k: float(v) for k, v in metrics.items() if _is_number(v)})
    if _is_number(values.get("active_units")) and math.isfinite(values["active_units"]):
        values["active_units"] = int(values["active_units"])
    values.update(_latent_summary(rec))
    values.update({f"cfg.{k}": v for k, v in cfg.items()})
    return values


def _status(rec: TrialRecord) -> tuple[str, str]:
    if rec.result is None:
        return "stopped", "no result.json (stopped early, killed or still running)"
    status = str(rec.result.get("status") or "failed")
    reason = rec.result.get("reason")
    return status, "" if reason is None else str(reason)


def _epoch_block(rec: TrialRecord) -> tuple[int, dict[str, list]]:
    rows = rec.epochs
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    cols = {"epoch": [r["epoch"] if _is_number(r.get("epoch")) else i + 1 for i, r in enumerate(rows)]}
    for key in keys:
        if key == "epoch":
            continue
        col = [r.get(key) for r in rows]
        if all(v is None or isinstance(v, (int, float, str)) for v in col):  # lists/dicts have no column
            cols[key] = col
    return len(rows), cols


def _artefact_blocks(rec: TrialRecord) -> list[tuple[str, tuple[int, dict[str, list]]]]:
    out = []
    loc = rec.artefact("verification.npz")
    arrays = _load_npz(loc, rec, VERIFICATION_KEYS) if loc is not None else None
    if arrays is not None:
        if "intersection_thresholds" not in arrays and "verification.json" in rec.artefacts:
            arrays = {**arrays, **_intersection_from_json(rec)}
        out += [("folds", b) for b in [_fold_block(rec, "test", arrays)] if b[0]]
        out += [("roc", b) for b in [_roc_block("test", arrays)] if b[0]]
    loc = rec.artefact("classification.json")
    if loc is not None:
        out += [("confusion", b) for b in [_confusion_block(rec, loc)] if b[0]]
    return out


def _intersection_from_json(rec: TrialRecord) -> dict[str, np.ndarray]:
    """Per-fold intersection thresholds/accuracies from verification.json (VerificationResult.to_json)."""
    import json

    loc = rec.loc.join("artefacts", "verification.json")
    try:
        folds = json.loads(loc.read_text())["intersection"]["folds"]
        by = {int(f["fold"]): (float(f["threshold"]), float(f["accuracy"])) for f in folds}
    except (OSError, ValueError, KeyError, TypeError) as e:
        rec.notes.append(f"{loc.uri}: no readable intersection folds ({type(e).__name__}: {e})")
        return {}
    return {"intersection_thresholds": np.array([by[k][0] for k in sorted(by)]),
            "intersection_fold_accuracy": np.array([by[k][1] for k in sorted(by)]), "_intersection_ids": sorted(by)}


VERIFICATION_KEYS = ("scores", "same", "fold", "thresholds", "fold_accuracy", "fold_ids", "greater_is_same",
                     "fpr", "tpr", "intersection_thresholds", "intersection_threshold",
                     "intersection_fold_accuracy", "intersection_accuracy")


def _load_npz(loc: Location, rec: TrialRecord, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray] | None:
    """The arrays of an npz file (only ``keys`` when given); unreadable files become a note on the trial."""
    try:
        return read_npz(loc.read_bytes(), keys)
    except (OSError, ValueError, EOFError) as e:
        rec.notes.append(f"{loc.uri}: unreadable ({e})")
        return None


# np.save's header for plain arrays; anything else (structured dtypes, odd spacing) goes to numpy's own parser.
_NPY_HEADER = re.compile(r"\{'descr': '([<>|=][a-zA-Z]\d*)', 'fortran_order': (True|False), 'shape': \(([\d, ]*)\), \}")


def read_npz(data: bytes, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """``np.load(npz)`` as a dict of arrays (only ``keys`` when given), without numpy's per-array overhead.

    np.load goes through ``zipfile`` and parses every array header with ``ast.literal_eval`` (a compile per
    array): for 1,000 small artefacts that is most of the read time. Here the zip's central directory is read
    with ``struct``, members are inflated with zlib (CRC checked) and plain headers are parsed with one regex,
    the array a view of the inflated bytes; anything unusual (zip64, encryption, other compression, odd
    headers) falls back to ``zipfile`` / ``numpy.lib.format``. Object arrays are refused, as with
    ``allow_pickle=False``. A damaged file raises ValueError.
    """
    wanted = None if keys is None else set(keys)
    try:
        members = _zip_members(data)
        if members is None:  # not the plain layout np.savez writes: let zipfile handle it
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [(n, lambda n=n: zf.read(n)) for n in zf.namelist()]
                return _arrays(members, wanted)
        return _arrays(members, wanted)
    except (zipfile.BadZipFile, zlib.error, struct.error, EOFError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"not a readable npz file ({type(e).__name__}: {e})") from None


def _arrays(members: list, wanted: set[str] | None) -> dict[str, np.ndarray]:
    out = {}
    for name, read in members:
        key = name[:-4] if name.endswith(".npy") else name
        if wanted is None or key in wanted:
            out[key] = _npy(read())
    return out


_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile's central directory record
_LOCAL = struct.Struct("<4s2B4HL2L2H")       # zipfile's local file header


def _zip_members(data: bytes) -> list | None:
    """[(name, read)] from the central directory, or None when the zip needs ``zipfile`` (zip64, encrypted...)."""
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if eocd < 0:
        raise zipfile.BadZipFile("no end of central directory")
    n, size, pos = struct.unpack_from("<HLL", data, eocd + 10)
    if n == 0xFFFF or pos == 0xFFFFFFFF or size == 0xFFFFFFFF or pos + size > eocd:
        return None
    members = []
    for _ in range(n):
        rec = _CENTRAL.unpack_from(data, pos)
        if rec[0] != b"PK\x01\x02":
            raise zipfile.BadZipFile("bad central directory")
        flags, method, crc, csize, usize, nlen, xlen, clen, offset = rec[5], rec[6], *rec[9:15], rec[18]
        if flags & 1 or method not in (0, 8) or 0xFFFFFFFF in (csize, usize, offset):
            return None
        name = data[pos + 46:pos + 46 + nlen].decode("utf-8" if flags & 0x800 else "cp437")
        members.append((name, lambda o=offset, c=csize, u=usize, m=method, k=crc: _inflate(data, o, c, u, m, k)))
        pos += 46 + nlen + xlen + clen
    return members


def _inflate(data: bytes, offset: int, csize: int, usize: int, method: int, crc: int) -> bytes:
    head = _LOCAL.unpack_from(data, offset)
    if head[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    start = offset + 30 + head[10] + head[11]
    raw = data[start:start + csize]
    out = zlib.decompress(raw, -15, max(usize, 1)) if method == 8 else raw
    if len(out) != usize or zlib.crc32(out) != crc:
        raise zipfile.BadZipFile("bad CRC or size")
    return out


def _npy(raw: bytes) -> np.ndarray:
    if raw[:6] != b"\x93NUMPY":
        raise ValueError("member is not a .npy array")
    major = raw[6]
    size = 2 if major == 1 else 4
    start = 8 + size
    end = start + int.from_bytes(raw[8:start], "little")
    m = _NPY_HEADER.fullmatch(raw[start:end].decode("latin1").rstrip(" \n"))
    if m is None or major not in (1, 2, 3):
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    dtype = np.dtype(m[1])
    if dtype.hasobject:
        raise ValueError("object arrays cannot be loaded when allow_pickle=False")
    shape = tuple(int(d) for d in m[3].split(",") if d.strip())
    count = math.prod(shape)
    if len(raw) - end < count * dtype.itemsize:
        raise ValueError("truncated .npy array")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=end)
    return arr.reshape(shape, order="F" if m[2] == "True" else "C")


def _first(arrays: dict[str, Any], *names: str) -> Any:
    return next((arrays[n] for n in names if n in arrays), None)


def _fold_block(rec: TrialRecord, split: str, a: dict[str, np.ndarray]) -> tuple[int, dict[str, list]]:
    thr, acc = a.get("thresholds"), a.get("fold_accuracy")
    if thr is None or acc is None:
        rec.notes.append(f"{rec.loc.uri}: {split} verification has no thresholds/fold_accuracy")
        return 0, {}
    k = len(acc)
    ids = a["fold_ids"] if _has(a.get("fold_ids"), k) else np.arange(k)
    fold = a.get("fold")
    n_pairs = [int((fold == f).sum()) for f in ids] if fold is not None else [None] * k
    ithr = _first(a, "intersection_thresholds", "intersection_threshold")
    iacc = _first(a, "intersection_fold_accuracy", "intersection_accuracy")
    if "_intersection_ids" in a:  # from verification.json: put them in this npz's fold order
        pos = {f: i for i, f in enumerate(a["_intersection_ids"])}
        order = [pos.get(int(f)) for f in ids]
        ok = None not in order
        ithr = np.asarray(ithr)[order] if ok else None
        iacc = np.asarray(iacc)[order] if ok else None
    return k, {"split": [split] * k, "fold": np.asarray(ids, dtype=np.int64).tolist(), "n_pairs": n_pairs,
               "threshold": _floats(thr), "accuracy": _floats(acc),
               "intersection_threshold": _floats(ithr) if _has(ithr, k) else [None] * k,
               "intersection_accuracy": _floats(iacc) if _has(iacc, k) else [None] * k}


def _floats(arr: Any) -> list:
    return [v if math.isfinite(v) else None for v in np.asarray(arr, dtype=np.float64).tolist()]


def _has(arr: Any, k: int) -> bool:
    return arr is not None and np.ndim(arr) == 1 and len(arr) == k


def roc_points(scores: np.ndarray, same: np.ndarray, *, greater_is_same: bool) -> tuple[np.ndarray, ...]:
    """(fpr, tpr, threshold) at <= ROC_POINTS vertices of the pooled ROC (facebench.eval's one ROC).

    Points are read at FPRs spaced both linearly and logarithmically, so a log-FPR plot keeps its low end.
    """
    from facebench.eval.curves import roc_curve_auc

    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    y = np.asarray(same, dtype=bool)[ok]
    if y.all() or not y.any():
        return np.array([]), np.array([]), np.array([])
    sign = 1.0 if greater_is_same else -1.0
    u = sign * s[ok]
    # Pre-sorted by numpy's fast unstable sort, roc_curve_auc's own stable sort finds its input in order (3x
    # cheaper); ties become one ROC vertex either way, so the curve is the same.
    order = np.argsort(-u)
    fpr, tpr, thr, _ = roc_curve_auc(u[order], y[order])
    return _downsample(fpr, tpr, sign * thr)


_ROC_GRID = np.concatenate((np.logspace(-4, 0, ROC_POINTS // 2 - 1), np.linspace(0, 1, ROC_POINTS // 2 - 1)))


def _downsample(fpr: np.ndarray, tpr: np.ndarray, thr: np.ndarray) -> tuple[np.ndarray, ...]:
    idx = np.searchsorted(fpr, _ROC_GRID, side="right") - 1  # the highest TPR reached at FPR <= grid value
    idx = np.unique(np.concatenate(([0, len(fpr) - 1], np.clip(idx, 0, len(fpr) - 1))))
    return fpr[idx], tpr[idx], thr[idx]


def _roc_block(split: str, a: dict[str, np.ndarray]) -> tuple[int, dict[str, list]]:
    if "fpr" in a and "tpr" in a and len(a["fpr"]):
        fpr, tpr, thr = _downsample(a["fpr"], a["tpr"], np.full(len(a["fpr"]), np.nan))
    elif "scores" in a and "same" in a:
        gis = bool(a["greater_is_same"]) if "greater_is_same" in a else True
        fpr, tpr, thr = roc_points(a["scores"], a["same"], greater_is_same=gis)
    else:
        return 0, {}
    n = len(fpr)
    return n, {"split": [split] * n, "point": list(range(n)), "fpr": fpr.tolist(), "tpr": tpr.tolist(),
               "threshold": _floats(thr)}


def _confusion_block(rec: TrialRecord, loc: Location) -> tuple[int, dict[str, list]]:
    import json

    try:
        data = json.loads(loc.read_text())
        matrix = np.asarray(_first(data, "confusion_matrix", "confusion"), dtype=np.int64)
    except (OSError, ValueError, TypeError) as e:
        rec.notes.append(f"{loc.uri}: unreadable confusion matrix ({e})")
        return 0, {}
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        rec.notes.append(f"{loc.uri}: confusion matrix is not square ({matrix.shape})")
        return 0, {}
    k = matrix.shape[0]
    names = _first(data, "class_names", "classes") or []
    names = [str(c) for c in names][:k] + [str(i) for i in range(len(names), k)]
    ti, pi = np.divmod(np.arange(k * k), k)
    return k * k, {"true": [names[i] for i in ti], "pred": [names[i] for i in pi], "true_index": ti.tolist(),
                   "pred_index": pi.tolist(), "count": matrix.ravel().tolist()}


def latent_activity(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per-dimension activity Var_x(mu) (or the per-dimension KL when that is all there is)."""
    return _first(arrays, "mu_variance", "mu_var", "var_mu", "activity", "kl_per_dim", "kld_per_dim")


def _latent_summary(rec: TrialRecord) -> dict[str, Any]:
    loc = rec.artefact("latents.npz")
    if loc is None:
        return {}
    arrays = _load_npz(loc, rec, None)
    act = latent_activity(arrays) if arrays else None
    if act is None:
        return {}
    act = np.asarray(act, dtype=np.float64).ravel()
    cut = float(arrays["threshold"]) if "threshold" in arrays else ACTIVE_UNIT_THRESHOLD
    return {"latent_dims": int(act.size), "active_units": int((act > cut).sum())}


# -- typing -------------------------------------------------------------------------------------

def _config_types() -> dict[str, pa.DataType]:
    """Arrow type of every ``cfg.<key>`` column, from the typed config, so the schema does not drift."""
    import dataclasses

    from facebench.config import SECTIONS, TOP_LEVEL

    arrow = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
    out = {f"cfg.{k}": pa.string() for k in TOP_LEVEL}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            args = [a for a in typing.get_args(t) if a is not type(None)]
            out[f"cfg.{section}.{f.name}"] = arrow.get(args[0] if args else t, pa.string())
    return out


def _to_table(name: str, cols: dict[str, list]) -> pa.Table:
    fixed = dict(FIXED[name])
    if name == "trials":
        fixed.update(_config_types())  # every config key is a column, even in an empty table
    n = max((len(v) for v in cols.values()), default=0)
    arrays, fields = [], []
    order = list(fixed) + sorted(k for k in cols if k not in fixed)
    for key in order:
        values = cols.get(key, [])
        values = values + [None] * (n - len(values))
        arr = _array(values, fixed.get(key))
        arrays.append(arr)
        fields.append(pa.field(key, arr.type))
    meta = {b"facebench.schema_version": str(SCHEMA_VERSION).encode(), b"facebench.table": name.encode()}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def _array(values: list, typ: pa.DataType | None) -> pa.Array:
    """Typed where the schema knows the column; inferred otherwise; strings as the last resort."""
    if typ is not None:
        try:
            return pa.array(values, type=typ, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    try:
        arr = pa.array(values, from_pandas=True)
        return arr.cast(pa.string()) if pa.types.is_null(arr.type) and typ is None else arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _num(v: Any) -> float | None:
    return float(v) if _is_number(v) else None


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


# -- Parquet ------------------------------------------------------------------------------------

def write_tables(tables: dict[str, pa.Table], out: Location) -> dict[str, str]:
    """Write ``<name>.parquet`` for each table under ``out``; return name -> URI."""
    written = {}
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        target = out.join(f"{name}.parquet")
        target.write_bytes(sink.getvalue().to_pybytes())
        written[name] = target.uri
    return written


def read_table(where: str, name: str) -> pa.Table:
    """Read one table written by ``write_tables`` from a local path or URI."""
    from .storage import resolve

    loc = resolve(where).join(f"{name}.parquet")
    return pq.read_table(io.BytesIO(loc.read_bytes()))


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate tables of several sweeps: the union of their columns, missing ones null."""
    return pa.concat_tables(list(tables), promote_options="permissive")
