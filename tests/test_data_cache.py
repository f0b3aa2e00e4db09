"""The decoded-tensor cache: correctness against PIL, reuse without decoding, atomicity, locking, bad images."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from facebench.data import cache
from facebench.data.cache import cached_images, default_cache_dir
from facebench.data.images import Decoding, _crop_box
from facebench.errors import DataError


def _names(image_dir):
    return sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.jpg"))[:12]


def test_cache_matches_pil_and_is_a_memmap(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    names = _names(image_dir)
    arr = cached_images(image_dir, names, Decoding(size=32, crop=0.8, color="rgb", cache_dir=tmp_path))
    assert isinstance(arr, np.memmap) and arr.shape == (12, 32, 32, 3) and not arr.flags.writeable
    # Independent oracle: plain PIL crop + resize (64 px sources, no JPEG draft scaling at this ratio).
    with Image.open(image_dir / names[3]) as im:
        ref = np.asarray(
            im.convert("RGB")
            .crop(tuple(round(v) for v in _crop_box(*im.size, 0.8)))
            .resize((32, 32), Image.Resampling.BILINEAR)
        )
    assert np.abs(arr[3].astype(int) - ref).mean() < 2.0
    gray = cached_images(image_dir, names, Decoding(size=16, crop=1.0, color="gray", cache_dir=tmp_path))
    assert gray.shape == (12, 16, 16, 1)


def test_second_call_does_not_decode(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    names = _names(image_dir)
    cached_images(image_dir, names, Decoding(size=24, crop=1.0, color="rgb", cache_dir=tmp_path))
    npy = next(tmp_path.glob("*.npy"))
    # The key is the one the keyword-argument signature computed: old cache entries are still found.
    old_key = cache.entry_key(
        {
            "kind": "files",
            "fingerprint": cache.fingerprint(image_dir.resolve(), names),
            "size": 24,
            "crop": 1.0,
            "color": "rgb",
        }
    )
    assert npy.stem == old_key
    mtime, decoded = npy.stat().st_mtime_ns, cache.STATS["decoded"]
    again = cached_images(image_dir, names, Decoding(size=24, crop=1.0, color="rgb", cache_dir=tmp_path))
    assert cache.STATS["decoded"] == decoded and npy.stat().st_mtime_ns == mtime and len(again) == 12
    cached_images(image_dir, names, Decoding(size=24, crop=0.9, color="rgb", cache_dir=tmp_path))  # new key
    assert cache.STATS["decoded"] == decoded + 12


def test_changed_source_file_changes_the_key(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    src = tmp_path / "src"
    (src / "P").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(src / "P" / f"P_{i:04d}.png")
    names = [f"P/P_{i:04d}.png" for i in range(3)]
    first = np.array(cached_images(src, names, Decoding(size=16, crop=1.0, color="rgb", cache_dir=tmp_path / "c")))
    Image.fromarray(np.full((20, 20, 3), 250, np.uint8)).save(src / "P" / "P_0001.png")
    os.utime(src / "P" / "P_0001.png", ns=(1, 1))
    second = cached_images(src, names, Decoding(size=16, crop=1.0, color="rgb", cache_dir=tmp_path / "c"))
    assert first[1].mean() == 40 and second[1].mean() == 250


@pytest.mark.parametrize("damage", ["tmp_left", "no_manifest", "truncated", "incomplete_flag"])
def test_interrupted_write_is_rebuilt_not_read(synthetic_lfw, tmp_path, damage):
    image_dir, _ = synthetic_lfw
    names = _names(image_dir)
    good = np.array(cached_images(image_dir, names, Decoding(size=20, crop=1.0, color="rgb", cache_dir=tmp_path)))
    npy = next(tmp_path.glob("*.npy"))
    manifest = npy.with_suffix(".json")
    if damage == "tmp_left":  # a writer died before its rename: the tmp file must be ignored and removed
        (tmp_path / f".{npy.stem}.npy.999.tmp").write_bytes(b"junk")
        manifest.unlink()
    elif damage == "no_manifest":
        manifest.unlink()
    elif damage == "truncated":
        with open(npy, "r+b") as f:
            f.truncate(npy.stat().st_size // 2)
    else:
        meta = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**meta, "complete": False}))
    decoded = cache.STATS["decoded"]
    again = cached_images(image_dir, names, Decoding(size=20, crop=1.0, color="rgb", cache_dir=tmp_path))
    assert cache.STATS["decoded"] == decoded + len(names)
    np.testing.assert_array_equal(again, good)
    assert not list(tmp_path.glob(".*.tmp"))


def test_corrupt_image_names_the_file(tmp_path):
    (tmp_path / "P").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "P" / "P_0001.jpg")
    (tmp_path / "P" / "P_0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match=r"P_0002.jpg: cannot decode image"):
        cached_images(
            tmp_path,
            ["P/P_0001.jpg", "P/P_0002.jpg"],
            Decoding(size=8, crop=1.0, color="rgb", cache_dir=tmp_path / "c"),
        )
    assert not list((tmp_path / "c").glob("*.json")) and not list((tmp_path / "c").glob("*.npy"))


def test_cache_dir_resolution(monkeypatch, tmp_path):
    assert default_cache_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("FACEBENCH_CACHE", str(tmp_path / "env"))
    assert default_cache_dir("") == tmp_path / "env"
    monkeypatch.delenv("FACEBENCH_CACHE")
    assert str(default_cache_dir("")).endswith(os.path.join(".cache", "facebench"))


_WORKER = """
import sys
from facebench.data import cache
from facebench.data.images import Decoding
cache.cached_images(sys.argv[1], sys.argv[2].split(","), Decoding(size=32, crop=1.0, color="rgb", cache_dir=sys.argv[3]))
print(cache.STATS["builds"])
"""


def test_concurrent_processes_build_once(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    names = sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.jpg"))
    argv = [sys.executable, "-c", _WORKER, str(image_dir), ",".join(names), str(tmp_path)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    builds = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(builds) == [0, 0, 1]
    assert len(list(tmp_path.glob("*.npy"))) == 1


def test_cache_cli(synthetic_lfw, tmp_path, capsys):
    from facebench.cli import main

    image_dir, _ = synthetic_lfw
    assert main(["data", "cache", str(image_dir.parent), "--size", "16", "--cache-dir", str(tmp_path)]) == 0
    assert "cached 80 images as (16, 16, 3)" in capsys.readouterr().out
    assert main(["data", "cache", str(image_dir.parent), "--size", "8"]) == 2
