"""Validation splits and pair drawing. None of this ever looks at the test protocol.

Faces: a seeded fraction of TRAINING identities is held out; pairs among them, with each identity in
exactly one fold (as in LFW), give the validation verification accuracy used for model selection.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .arrays import PairIndex

MIN_VAL_IDENTITIES = 4  # two folds of two people: the fewest that give a threshold from another fold


def holdout_identities(identities: list[str], *, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held-out) identity names, both sorted; at least MIN_VAL_IDENTITIES are held out."""
    n_val = max(MIN_VAL_IDENTITIES, int(round(fraction * len(identities))))
    if len(identities) - n_val < 2:
        raise ConfigError(
            f"data.val_fraction: {len(identities)} training identities are too few to hold out "
            f"{n_val} for validation and keep at least 2 for training"
        )
    order = np.random.default_rng([seed, 1]).permutation(len(identities))
    held = {identities[i] for i in order[:n_val]}
    return sorted(i for i in identities if i not in held), sorted(held)


def holdout_rows(labels: np.ndarray, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows), sorted, stratified by label so every class is validated."""
    rng = np.random.default_rng([seed, 2])
    val = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(rows))))
        val.append(rng.choice(rows, size=min(k, len(rows) - 1), replace=False))
    val_rows = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val_rows), val_rows


def select_rows(labels: np.ndarray, *, fraction: float, seed: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR: (train rows, val rows) with a stratified hold-out and an optional seeded cap on train rows."""
    train, val = holdout_rows(labels, fraction=fraction, seed=seed)
    if limit and limit < len(train):
        train = np.sort(np.random.default_rng([seed, 5]).choice(train, size=limit, replace=False))
    return train, val


def draw_pairs(labels: np.ndarray, *, pairs: int, folds: int, seed: int) -> PairIndex:
    """Balanced same/different pairs; each label in exactly one fold; pairs//(2*folds) of each kind per fold.

    Same pairs are distinct where enough exist; with too few images a fold gets fewer pairs of BOTH
    kinds, so every fold stays balanced.
    """
    rng = np.random.default_rng([seed, 3])
    ids = rng.permutation(np.unique(labels))
    folds = max(1, min(folds, len(ids) // 2))
    per = max(1, pairs // (2 * folds))
    rows_of = {int(c): np.flatnonzero(labels == c) for c in ids}
    out: list[tuple[int, int, bool, int]] = []
    for f, fold_ids in enumerate(np.array_split(ids, folds)):
        same = _same_pairs([rows_of[int(c)] for c in fold_ids], per, rng)
        diff = _diff_pairs([rows_of[int(c)] for c in fold_ids], len(same), rng)
        same = same[: len(diff)]  # too few distinct different pairs: keep the fold balanced
        out += [(a, b, True, f) for a, b in same] + [(a, b, False, f) for a, b in diff]
    a, b, s, fo = zip(*out) if out else ((), (), (), ())
    return PairIndex(np.array(a), np.array(b), np.array(s), np.array(fo))


def _same_pairs(groups: list[np.ndarray], n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    groups = [g for g in groups if len(g) >= 2]
    available = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    chosen: set[tuple[int, int]] = set()
    while groups and len(chosen) < min(n, available):
        g = groups[rng.integers(len(groups))]
        a, b = sorted(rng.choice(g, size=2, replace=False).tolist())
        chosen.add((a, b))
    return sorted(chosen)


def _diff_pairs(groups: list[np.ndarray], n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n`` distinct different-person pairs (a pair drawn twice would count double; it is drawn again), fewer
    only when the attempts run out on a tiny fold."""
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(20 * n + 100 if len(groups) >= 2 else 0):
        if len(out) == n:
            break
        i, j = rng.choice(len(groups), size=2, replace=False)
        a, b = int(rng.choice(groups[i])), int(rng.choice(groups[j]))
        if (min(a, b), max(a, b)) not in seen:
            seen.add((min(a, b), max(a, b)))
            out.append((a, b))
    return out
