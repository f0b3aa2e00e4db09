"""One epoch over all LFW images at 112x112: decoded cache vs a PIL image-folder loader, in the same run.

    .venv/bin/python tests/bench/bench_cache.py [--root ../shared/data/lfw] [--baseline-images 1500]

The PIL baseline (ImageFolder-style: open, decode, same crop + resize, per image, one process) is
timed on a random subset and extrapolated to the full epoch; the cache is timed on every image, read
in shuffled batches of 256 from the memmap as a training loader would. Prints images/s, the ratio
(target >= 10x), the cost of the integrity check at each open, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from facebench.data.cache import _blocks_intact, cached_images  # noqa: E402
from facebench.data.images import Decoding, prepare  # noqa: E402
from facebench.data.layouts import find_lfw, list_identity_folder  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "lfw"))
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--baseline-images", type=int, default=1500)
    args = ap.parse_args()
    image_dir, _ = find_lfw(args.root)
    names = [n for files in list_identity_folder(image_dir).values() for n in files]
    kw = dict(size=args.size, crop=1.0, color="rgb")

    t = time.perf_counter()
    images = cached_images(image_dir, names, Decoding(**kw))
    print(f"cache ready in {time.perf_counter() - t:.1f} s (a build decodes every image once; then a hit)")

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    total = 0.0
    for batch in np.array_split(rng.permutation(len(names)), len(names) // 256):
        total += float(images[np.sort(batch)].mean(dtype=np.float32))  # touch every byte, as to_input would
    cache_s = time.perf_counter() - t
    cache_rate = len(names) / cache_s

    subset = rng.choice(len(names), size=min(args.baseline_images, len(names)), replace=False)
    t = time.perf_counter()
    for i in subset:
        with Image.open(image_dir / names[i]) as im:
            np.asarray(prepare(im, **kw)).mean(dtype=np.float32)
    pil_rate = len(subset) / (time.perf_counter() - t)

    # The integrity check each open pays (sampled block CRCs), against the epoch it protects.
    entry = Path(images.filename)
    meta = json.loads(entry.with_suffix(".json").read_text())
    t = time.perf_counter()
    for _ in range(20):
        assert _blocks_intact(entry, meta)
    verify_s = (time.perf_counter() - t) / 20

    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"images: {len(names):,} at {args.size}x{args.size}")
    print(f"cache epoch:    {cache_s:.2f} s, {cache_rate:,.0f} images/s")
    print(
        f"PIL loader:     {pil_rate:,.0f} images/s (timed on {len(subset):,} random images, extrapolated: "
        f"{len(names) / pil_rate:.1f} s/epoch)"
    )
    print(f"ratio:          {cache_rate / pil_rate:.1f}x (target >= 10x)")
    print(
        f"open check:     {verify_s * 1e3:.1f} ms per open ({verify_s / cache_s:.2%} of one cache epoch; "
        f"{len(meta['block_crc32'])} blocks of 1 MiB, sampled)"
    )
    print(f"peak RSS:       {maxrss_mb:,.0f} MB (cache file {images.nbytes / 2**20:,.0f} MB, memory-mapped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
