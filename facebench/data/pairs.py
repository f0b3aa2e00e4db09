"""Verification pairs: LFW ``pairs.txt`` (View 2) or a CSV ``path_a,path_b,same,fold``; the leakage guard.

LFW's View 2 assigns each person to exactly one of its 10 folds, which is what makes "train on the
people of some folds, verify on the pairs of the others" person-disjoint. ``Pairs.people_of_folds``
checks that property instead of assuming it, because a hand-made pairs file may break it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, LeakageError
from .arrays import PairIndex


@dataclass
class Pairs:
    """Pairs in file order: relative image names, same-person flag and the file's fold id."""

    a: list[str]
    b: list[str]
    same: np.ndarray
    fold: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.a)

    @property
    def folds(self) -> list[int]:
        return sorted(int(f) for f in np.unique(self.fold))

    @property
    def names(self) -> list[str]:
        """Every image the pairs refer to, sorted."""
        return sorted(set(self.a) | set(self.b))

    def people_of_folds(self) -> dict[int, set[str]]:
        """fold -> people; DataError if a person appears in more than one fold."""
        out: dict[int, set[str]] = {}
        seen: dict[str, int] = {}
        for a, b, f in zip(self.a, self.b, self.fold.tolist()):
            for person in (person_of(a), person_of(b)):
                if seen.setdefault(person, f) != f:
                    raise DataError(
                        f"{self.source}: person {person!r} appears in folds {seen[person]} and {f}; "
                        "each person must belong to exactly one fold"
                    )
                out.setdefault(f, set()).add(person)
        return out

    def select_folds(self, folds: list[int]) -> Pairs:
        """The pairs of ``folds``; refused if what is left cannot be scored (no pairs, or only one kind)."""
        keep = np.isin(self.fold, folds)
        rows = np.flatnonzero(keep)
        out = Pairs([self.a[i] for i in rows], [self.b[i] for i in rows], self.same[keep], self.fold[keep], self.source)
        check_scorable(out, where=f"{self.source} folds {','.join(map(str, folds))}")
        return out

    def to_index(self, names: list[str]) -> PairIndex:
        """Row indices into an ImageArray with these ``names``; the file's fold ids are kept (LFW folds 5-9 stay
        5-9 in every table and message)."""
        row = {n: i for i, n in enumerate(names)}
        missing = [n for n in self.a + self.b if n not in row]
        if missing:
            raise DataError(
                f"{self.source}: pair image {missing[0]!r} is not among the loaded images ({len(set(missing))} missing)"
            )
        return PairIndex(
            np.array([row[n] for n in self.a]), np.array([row[n] for n in self.b]), self.same.copy(), self.fold.copy()
        )


def person_of(name: str) -> str:
    """``Person/Person_0001.jpg`` -> ``Person``; a bare ``Person_0001.jpg`` -> ``Person``."""
    parent, _, base = name.replace("\\", "/").rpartition("/")
    if parent:
        return parent.rpartition("/")[2]
    return Path(base).stem.rpartition("_")[0] or Path(base).stem


def lfw_name(person: str, number: int) -> str:
    return f"{person}/{person}_{number:04d}.jpg"


def read_pairs(path: str | Path) -> Pairs:
    """Read LFW ``pairs.txt`` (header ``folds<TAB>n`` or ``n``) or a CSV with header ``path_a,path_b,same,fold``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pairs file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text pairs file ({e.reason})") from None
    lines = text.splitlines()
    if lines and lines[0].strip().lower().startswith("path_a"):
        return _read_csv(path, lines)
    return _read_lfw(path, lines)


MAX_FIELD = 2**31 - 1  # image numbers and fold ids: LFW's are 4 digits; past this is a typo, not a dataset


def _int(path: Path, lineno: int, field: str, what: str) -> int:
    """A non-negative ASCII integer below 2^31 (``int`` alone accepts '²'-like digits only to fail, and 10^30)."""
    if not (field.isascii() and field.isdigit()) or len(field) > 10 or int(field) > MAX_FIELD:
        raise DataError(f"{path}:{lineno}: {what} must be an integer, got {field[:40]!r} (0 to {MAX_FIELD})")
    return int(field)


def _read_lfw(path: Path, lines: list[str]) -> Pairs:
    head = lines[0].split() if lines else []
    if len(head) not in (1, 2) or not all(h.isascii() and h.isdigit() and len(h) <= 9 for h in head):
        raise DataError(
            f"{path}:1: bad header {lines[0] if lines else ''!r}; expected '<folds>\\t<pairs per "
            "fold>' (LFW View 2: '10\\t300') or '<pairs>'"
        )
    folds, per = (int(head[0]), int(head[1])) if len(head) == 2 else (1, int(head[0]))
    if folds < 1 or per < 1:
        raise DataError(
            f"{path}:1: header {lines[0]!r} promises no pairs; expected at least 1 fold of at least "
            "1 matched and 1 mismatched pair"
        )
    body = [(i + 2, line.split()) for i, line in enumerate(lines[1:])]
    while body and not body[-1][1]:
        body.pop()
    if len(body) != 2 * folds * per:
        raise DataError(
            f"{path}: header promises {folds} folds x {2 * per} pairs = {2 * folds * per} lines, found {len(body)}"
        )
    a, b, same, fold = [], [], [], []
    for k, (lineno, fields) in enumerate(body):
        matched = (k // per) % 2 == 0
        want = 3 if matched else 4
        if len(fields) != want:
            kind = "matched 'name n1 n2'" if matched else "mismatched 'name1 n1 name2 n2'"
            raise DataError(f"{path}:{lineno}: expected {want} fields for a {kind} pair, got {len(fields)}")
        if matched:
            name, n1, n2 = fields
            a.append(lfw_name(name, _int(path, lineno, n1, "image number")))
            b.append(lfw_name(name, _int(path, lineno, n2, "image number")))
        else:
            a.append(lfw_name(fields[0], _int(path, lineno, fields[1], "image number")))
            b.append(lfw_name(fields[2], _int(path, lineno, fields[3], "image number")))
        _check_pair(path, lineno, a[-1], b[-1])
        if not matched and fields[0] == fields[2]:
            raise DataError(
                f"{path}:{lineno}: a mismatched pair names one person twice ({fields[0]}); it would be "
                "scored as two different people"
            )
        same.append(matched)
        fold.append(k // (2 * per))
    return check_scorable(Pairs(a, b, np.array(same, dtype=bool), np.array(fold, dtype=np.int64), str(path)))


def _check_pair(path: Path, lineno: int, a: str, b: str) -> None:
    """An image paired with itself scores as a perfect match and inflates accuracy: refused."""
    if a == b:
        raise DataError(f"{path}:{lineno}: pair compares image {a!r} with itself (a self-pair)")


_TRUE = {"1", "true", "yes", "same"}
_FALSE = {"0", "false", "no", "diff", "different"}


def _read_csv(path: Path, lines: list[str]) -> Pairs:
    header = [h.strip().lower() for h in lines[0].split(",")]
    if header != ["path_a", "path_b", "same", "fold"]:
        raise DataError(f"{path}:1: CSV header must be 'path_a,path_b,same,fold', got {lines[0]!r}")
    a, b, same, fold = [], [], [], []
    for lineno, row in enumerate(csv.reader(lines[1:]), start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4:
            raise DataError(f"{path}:{lineno}: expected 4 fields path_a,path_b,same,fold, got {len(row)}")
        s = row[2].strip().lower()
        if s not in _TRUE | _FALSE:
            raise DataError(f"{path}:{lineno}: same must be 1/0/true/false, got {row[2]!r}")
        f = _int(path, lineno, row[3].strip(), "fold")
        a.append(row[0].strip())
        b.append(row[1].strip())
        _check_pair(path, lineno, a[-1], b[-1])
        same.append(s in _TRUE)
        fold.append(f)
    return check_scorable(Pairs(a, b, np.array(same, dtype=bool), np.array(fold, dtype=np.int64), str(path)))


def check_scorable(pairs: Pairs, *, where: str = "") -> Pairs:
    """Refuse pairs that would be scored into a number that means nothing: none at all, only one kind (accuracy
    1.0 with AUC and EER undefined), a pair given twice (it counts double) or given as both same and different."""
    where = where or pairs.source or "pairs"
    if not len(pairs):
        raise DataError(f"{where}: no pairs; verification needs same and different pairs")
    if pairs.same.all() or not pairs.same.any():
        kind = "same-person" if pairs.same.all() else "different-person"
        raise DataError(f"{where}: all {len(pairs)} pairs are {kind} pairs; verification needs both kinds")
    seen: dict[tuple[str, str], int] = {}
    for i, (a, b) in enumerate(zip(pairs.a, pairs.b)):
        key = (a, b) if a <= b else (b, a)
        j = seen.setdefault(key, i)
        if j != i:
            verdict = (
                "labelled both same and different (contradictory)"
                if pairs.same[i] != pairs.same[j]
                else "given twice (a duplicate counts double)"
            )
            raise DataError(
                f"{where}: pair {i} ({a}, {b}) repeats pair {j} (pairs counted from 0 in file order), {verdict}"
            )
    return pairs


def parse_folds(spec: str, available: list[int], *, key: str = "data.train_folds") -> list[int]:
    """'0-4' or '0,2,4' -> [0, 1, 2, 3, 4]; every fold must exist in the pairs file."""
    out: set[int] = set()
    have = f"{available[0]}-{available[-1]}" if available else "none"
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        if not all(x.isascii() and x.isdigit() for x in (lo, hi or lo)):
            raise ConfigError(
                f"{key}: {spec!r} is not a fold list like '0-4' or '0,2,4' (folds of this pairs file: {have})"
            )
        first, last = int(lo), int(hi or lo)
        if first > last:
            raise ConfigError(f"{key}: range {part.strip()!r} runs backwards; write it low-high")
        # Bounded by the folds that exist, so '0-10000000000' is refused without building ten billion ints.
        bad = next((f for f in (first, last) if f not in available), None)
        if bad is not None:
            raise ConfigError(f"{key}: fold {bad} not in the pairs file's folds {have}")
        out.update(f for f in available if first <= f <= last)
    return sorted(out)


def check_no_leakage(train_identities, eval_pairs_people, *, where: str = "") -> None:
    """Raise LeakageError if any training identity is a person of the evaluation pairs."""
    from .overlap import check_listing_names

    # By name after normalisation: 'george w bush' and 'George_W_Bush' are one person (docs/datasets.md).
    overlap = [
        t if t == e else f"{t} (~ {e})" for t, e in check_listing_names(set(train_identities), set(eval_pairs_people))
    ]
    if overlap:
        shown = ", ".join(overlap[:5]) + (", ..." if len(overlap) > 5 else "")
        raise LeakageError(
            f"{where + ': ' if where else ''}{len(overlap)} training identities are people of the "
            f"evaluation pairs (e.g. {shown}); train on people disjoint from the test folds"
        )
