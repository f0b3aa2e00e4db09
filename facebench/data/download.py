"""Download LFW (deep-funneled + pairs.txt) or CIFAR-10 from the official hosts, checked by MD5.

The base URL can be replaced (``--mirror`` or ``$FACEBENCH_MIRROR``): a mirror serves the same file
names, and the official checksums still apply, so a mirror cannot hand over different data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Source:
    base_url: str
    filename: str
    md5: str
    extract: bool


# Checksums of the official hosts' files (the same torchvision's LFW and CIFAR10 datasets check).
SOURCES: dict[str, tuple[Source, ...]] = {
    "lfw": (
        Source("http://vis-www.cs.umass.edu/lfw/", "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201", True),
        Source("http://vis-www.cs.umass.edu/lfw/", "pairs.txt", "9f1ba174e4e1c508ff7cdf10ac338a7d", False),
    ),
    "cifar10": (
        Source("https://www.cs.toronto.edu/~kriz/", "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", True),
    ),
}


def download(
    name: str, root: str | Path, *, mirror: str = "", sources: dict[str, tuple[Source, ...]] | None = None
) -> Path:
    """Fetch, verify and extract dataset ``name`` into ``root``; returns ``root``."""
    table = SOURCES if sources is None else sources
    if name not in table:
        raise ConfigError(f"dataset {name!r} cannot be downloaded; choose one of: {', '.join(table)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = mirror or os.environ.get("FACEBENCH_MIRROR", "")
    for src in table[name]:
        url = (base.rstrip("/") + "/" if base else src.base_url) + src.filename
        target = root / src.filename
        if not (target.is_file() and _md5(target) == src.md5):  # a verified earlier download is kept
            _fetch(url, target, src.md5)
        if src.extract:
            _extract(target, root)
    return root


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, target: Path, md5: str) -> None:
    """Download to a temporary name, check the MD5, then move into place: a torn or foreign file never
    lands under the real name."""
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    except (OSError, ValueError) as e:  # URLError, HTTPError and socket errors are OSErrors
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: download failed ({e})") from None
    got = _md5(part)
    if got != md5:
        part.unlink(missing_ok=True)
        raise DataError(f"{target}: download from {url} failed its MD5 check (expected {md5}, got {got})")
    os.replace(part, target)


def _extract(archive: Path, root: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                tar.extractall(root, filter="data")  # refuses absolute paths, "..", links out of root
            else:
                bad = [
                    m.name
                    for m in tar.getmembers()
                    if m.name.startswith("/") or ".." in Path(m.name).parts or m.issym() or m.islnk()
                ]
                if bad:
                    raise DataError(f"{archive}: refusing to extract {bad[0]!r} (a path or link out of {root})")
                tar.extractall(root)
    except (OSError, tarfile.TarError) as e:
        raise DataError(f"{archive}: cannot extract ({e})") from None
