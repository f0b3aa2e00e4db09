"""Download LFW (deep-funneled + pairs.txt) or CIFAR-10 from the official hosts, checked by MD5.

The base URL can be replaced (``--mirror`` or ``$FACEBENCH_MIRROR``): a mirror serves the same file
names, and the official checksums still apply, so a mirror cannot hand over different data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Source:
    base_url: str
    filename: str
    md5: str
    extract: bool


# Checksums as published with torchvision's LFW and CIFAR10 datasets (the files of the official hosts).
SOURCES: dict[str, tuple[Source, ...]] = {
    "lfw": (Source("http://vis-www.cs.umass.edu/lfw/", "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201",
                   True),
            Source("http://vis-www.cs.umass.edu/lfw/", "pairs.txt", "9f1ba174e4e1c508ff7cdf10ac338a7d", False)),
    "cifar10": (Source("https://www.cs.toronto.edu/~kriz/", "cifar-10-python.tar.gz",
                       "c58f30108f718f92721af3b95e74349a", True),),
}


def download(name: str, root: str | Path, *, mirror: str = "",
             sources: dict[str, tuple[Source, ...]] | None = None) -> Path:
    """Fetch, verify and extract dataset ``name`` into ``root``; returns ``root``."""
    from torchvision.datasets.utils import check_integrity, download_and_extract_archive, download_url

    table = SOURCES if sources is None else sources
    if name not in table:
        raise ConfigError(f"dataset {name!r} cannot be downloaded; choose one of: {', '.join(table)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = mirror or os.environ.get("FACEBENCH_MIRROR", "")
    for src in table[name]:
        url = (base.rstrip("/") + "/" if base else src.base_url) + src.filename
        try:
            if src.extract:
                download_and_extract_archive(url, str(root), filename=src.filename, md5=src.md5)
            else:
                download_url(url, str(root), filename=src.filename, md5=src.md5)
        except RuntimeError as e:  # torchvision's "File not found or corrupted." after an MD5 mismatch
            raise DataError(f"{root / src.filename}: download from {url} failed its MD5 check "
                            f"(expected {src.md5}): {e}") from None
        except OSError as e:
            raise DataError(f"{url}: download failed ({e})") from None
        if not check_integrity(str(root / src.filename), src.md5):
            raise DataError(f"{root / src.filename}: MD5 differs from {src.md5}")
    return root
