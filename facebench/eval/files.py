"""Files the evaluation reads and writes: embeddings (.npz / Parquet) and pairs (a trial's ``verification.npz`` is
written and read by ``facebench.artefacts``).

An embeddings file holds ``names`` (relative image paths as the pairs file resolves them, e.g.
``Aaron_Peirsol/Aaron_Peirsol_0001.jpg``) and ``embeddings`` (N x D); in Parquet, the same two columns with
the embeddings as a list column. Pairs come from ``facebench.data.pairs.read_pairs`` (LFW pairs.txt or CSV).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artefacts import CONFIG, VERIFICATION_NPZ, load_npz
from ..errors import DataError
from ..io import atomic_path

if TYPE_CHECKING:  # the data package imports PIL; only resolve_pairs needs it, and its callers have it loaded
    from ..data.arrays import PairIndex


def read_embeddings(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(names, embeddings)`` from ``.npz`` or ``.parquet``; every problem is a DataError naming the file."""
    path = Path(path)
    if path.is_dir():
        kind = "a trial folder" if (path / CONFIG).is_file() or (path / VERIFICATION_NPZ).is_file() else "a folder"
        raise DataError(
            f"{path}: is {kind}, not an embeddings file (.npz or .parquet with 'names' and 'embeddings'); "
            "to compare two trained trials on their own test pairs use `facebench eval compare TRIAL_A "
            "TRIAL_B`"
        )
    if not path.is_file():
        raise DataError(f"{path}: embeddings file not found (looked for {path.absolute()})")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        names, emb = _read_npz(path)
    elif suffix in (".parquet", ".pq"):
        names, emb = _read_parquet(path)
    else:
        raise DataError(f"{path}: unknown embeddings format {suffix!r}; use .npz or .parquet")
    return _check_embeddings(path, names, emb)


def write_embeddings(path: str | Path, names: list[str], embeddings: np.ndarray) -> None:
    """The file ``read_embeddings`` reads (``.npz`` or ``.parquet`` by suffix), written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    emb = np.asarray(embeddings, dtype=np.float32)
    with atomic_path(path) as tmp:
        if suffix == ".npz":
            with open(tmp, "wb") as fh:
                np.savez(fh, names=np.array(names, dtype=str), embeddings=emb)
        elif suffix in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            column = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
            pq.write_table(pa.table({"names": pa.array(names, pa.string()), "embeddings": column}), tmp)
        else:
            raise DataError(f"{path}: unknown embeddings format {suffix!r}; use .npz or .parquet")


def _read_npz(path: Path) -> tuple[Any, Any]:
    arrays = load_npz(path)
    for key in ("names", "embeddings"):
        if key not in arrays:
            raise DataError(f"{path}: missing array {key!r} (found: {', '.join(sorted(arrays)) or 'none'})")
    return arrays["names"], arrays["embeddings"]


def _read_parquet(path: Path) -> tuple[Any, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    for key in ("names", "embeddings"):
        if key not in table.column_names:
            raise DataError(f"{path}: missing column {key!r} (found: {', '.join(table.column_names)})")
    rows = table.column("embeddings").to_pylist()
    dim = len(rows[0]) if rows and rows[0] is not None else 0
    for i, r in enumerate(rows):
        if r is None or len(r) != dim:
            raise DataError(
                f"{path}: embedding rows differ in dimension (row {i} has "
                f"{0 if r is None else len(r)} values, row 0 has {dim})"
            )
    emb = np.array(rows, dtype=np.float64) if rows else np.zeros((0, 0))
    return np.array(table.column("names").to_pylist(), dtype=object), emb


def _check_embeddings(path: Path, names: Any, emb: Any) -> tuple[list[str], np.ndarray]:
    names = np.asarray(names)
    if names.ndim != 1 or not all(isinstance(n, str) for n in names.tolist()):
        raise DataError(f"{path}: 'names' must be a 1-D array of strings")
    emb = np.asarray(emb)
    real = np.issubdtype(emb.dtype, np.integer) or np.issubdtype(emb.dtype, np.floating)
    if emb.ndim != 2 or not real:
        raise DataError(f"{path}: 'embeddings' must be a real numeric (N, D) array, got shape {emb.shape} {emb.dtype}")
    if emb.shape[0] == 0 or emb.shape[1] == 0:
        raise DataError(f"{path}: 'embeddings' is empty (shape {emb.shape}); nothing to score")
    if len(names) != len(emb):
        raise DataError(f"{path}: {len(names)} names but {len(emb)} embedding rows")
    bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if len(bad):
        raise DataError(
            f"{path}: {len(bad)} embeddings contain NaN or inf (first: row {bad[0]}, {str(names[bad[0]])!r})"
        )
    names = names.tolist()
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise DataError(f"{path}: duplicate name {n!r} at rows {seen[n]} and {i}")
        seen[n] = i
    if not emb.any():
        raise DataError(f"{path}: every embedding is all zeros; there is nothing to tell people apart by")
    return names, emb


def resolve_pairs(pairs: Any, names: list[str], *, embeddings_path: str | Path = "") -> PairIndex:
    """Row indices of each pair's images, file order and fold ids kept; an unknown image is a DataError naming
    the pair and the image."""
    from ..data.arrays import PairIndex

    row = {n: i for i, n in enumerate(names)}
    a = np.empty(len(pairs.a), dtype=np.int64)
    b = np.empty(len(pairs.b), dtype=np.int64)
    for i, (na, nb) in enumerate(zip(pairs.a, pairs.b)):
        for out, name in ((a, na), (b, nb)):
            if name not in row:
                where = f" in {embeddings_path}" if embeddings_path else ""
                raise DataError(
                    f"{pairs.source or 'pairs'}: pair {i} (file order, from 0) refers to image "
                    f"{name!r}, which has no embedding{where}"
                )
            out[i] = row[name]
    return PairIndex(a, b, pairs.same, pairs.fold)


def contiguous_folds(n: int, k: int) -> np.ndarray:
    """Fold ids for ``n`` pairs in file order split into ``k`` contiguous blocks (LFW's own layout)."""
    if not 1 <= k <= n:
        raise DataError(f"--folds {k}: must be between 1 and the number of pairs ({n})")
    return (np.arange(n) * k) // n
