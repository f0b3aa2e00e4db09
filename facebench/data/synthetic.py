"""Synthetic face-like identities, deterministic by seed: the zero-setup demo and the unit-test data.

Each identity has its own geometry and colours (face ellipse, eye spacing and size, brow, nose,
mouth width, skin and hair colour, hairline); each image adds a pose (shift, rotation, scale), a
lighting gradient, a background and pixel noise. Identities differ by a few pixels of geometry and
some colour, so a network must learn them, but a small one can. Drawn at NATIVE_SIZE with numpy, in
one vectorised pass per batch, then resized by ``images.prepare_array`` like real images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from .arrays import ImageArray
from .splits import draw_pairs

NATIVE_SIZE = 64


# Skin and hair colours come from narrow natural ranges (dark -> light), so colour alone cannot tell
# dozens of identities apart and the network has to use geometry too.
_SKIN = np.array([[0.36, 0.24, 0.17], [0.96, 0.80, 0.70]], np.float32)
_HAIR = np.array([[0.08, 0.06, 0.05], [0.85, 0.70, 0.40]], np.float32)


def _tone(t: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return ends[0] + t[:, None] * (ends[1] - ends[0])


def _identity_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    u = lambda lo, hi, *shape: rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)  # noqa: E731
    return {
        "ax": u(0.24, 0.34),
        "ay": u(0.32, 0.43),
        "skin": _tone(u(0, 1), _SKIN) + u(-0.05, 0.05, 3),
        "hair": _tone(u(0, 1), _HAIR) + u(-0.05, 0.05, 3),
        "hairline": u(-0.28, -0.12),
        "eye_dx": u(0.08, 0.16),
        "eye_y": u(-0.10, 0.0),
        "eye_r": u(0.025, 0.05),
        "iris": u(0.0, 0.5, 3),
        "brow": u(0.03, 0.07),
        "nose": u(0.04, 0.12),
        "mouth_w": u(0.06, 0.16),
        "mouth_y": u(0.14, 0.24),
        "lip": u(0.4, 0.9, 3),
    }


def _soft(d: np.ndarray, edge: float = 0.02) -> np.ndarray:
    """Signed distance-like field (< 0 inside) -> anti-aliased coverage in [0, 1]."""
    return np.clip(0.5 - d / edge, 0.0, 1.0)


def _ellipse(x, y, cx, cy, rx, ry):
    return np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) - 1.0


def render(p: dict[str, np.ndarray], rng: np.random.Generator, size: int = NATIVE_SIZE) -> np.ndarray:
    """Identity parameters (one row per image) -> (N, size, size, 3) uint8 with per-image pose and light."""
    n = len(p["ax"])
    g = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    X, Y = g[None, None, :], g[None, :, None]
    col = lambda v: v[:, None, None]  # noqa: E731  per-image scalar -> broadcast over pixels
    angle = rng.normal(0, math.radians(7), n).astype(np.float32)
    scale = rng.normal(1.0, 0.05, n).astype(np.float32)
    sx, sy = rng.normal(0, 0.035, (2, n)).astype(np.float32)
    c, s = col(np.cos(angle)), col(np.sin(angle))
    x = (c * (X - col(sx)) + s * (Y - col(sy))) / col(scale)  # pixel -> face frame (inverse pose)
    y = (-s * (X - col(sx)) + c * (Y - col(sy))) / col(scale)
    img = np.broadcast_to(rng.uniform(0.1, 0.9, (n, 1, 1, 3)).astype(np.float32), (n, size, size, 3)).copy()

    def paint(mask: np.ndarray, colour: np.ndarray) -> None:
        img[:] += mask[..., None] * (colour[:, None, None, :] - img)

    ax, ay = col(p["ax"]), col(p["ay"])
    paint(_soft(_ellipse(x, y, 0, -0.02, ax * 1.1, ay * 1.08)) * (y < col(p["hairline"]) + 0.1), p["hair"])
    paint(_soft(_ellipse(x, y, 0, 0, ax, ay)), p["skin"])
    paint(_soft(_ellipse(x, y, 0, -0.02, ax * 1.1, ay * 1.08)) * (y < col(p["hairline"])), p["hair"])
    for side in (-1, 1):
        ex, ey, er = side * col(p["eye_dx"]), col(p["eye_y"]), col(p["eye_r"])
        paint(_soft(_ellipse(x, y, ex, ey, er * 1.5, er)), np.full((n, 3), 0.95, np.float32))
        paint(_soft(_ellipse(x, y, ex, ey, er * 0.7, er * 0.7)), p["iris"])
        paint(_soft(_ellipse(x, y, ex, ey - er * 2.0, er * 1.8, col(p["brow"]) * 0.3)), p["hair"] * 0.8)
    paint(_soft(_ellipse(x, y, 0, 0.06, 0.02, col(p["nose"]))) * 0.5, p["skin"] * 0.6)
    paint(_soft(_ellipse(x, y, 0, col(p["mouth_y"]), col(p["mouth_w"]), 0.022)), p["lip"] * p["skin"])
    theta = rng.uniform(0, 2 * math.pi, n).astype(np.float32)
    light = col(rng.uniform(0.7, 1.1, n).astype(np.float32)) * (
        1 + col(rng.uniform(0, 0.5, n).astype(np.float32)) * (col(np.cos(theta)) * X + col(np.sin(theta)) * Y)
    )
    img[:] *= light[..., None] * rng.uniform(0.9, 1.1, (n, 1, 1, 3)).astype(np.float32)  # white balance
    img[:] += rng.standard_normal(img.shape, dtype=np.float32) * 0.04
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def synthetic_faces(
    *,
    identities: int,
    images_per_identity: int,
    seed: int,
    stream: str = "train",
    prefix: str = "synth",
    size: int = NATIVE_SIZE,
) -> ImageArray:
    """``identities`` x ``images_per_identity`` images at ``size``; ``stream`` gives disjoint identity sets."""
    stream_id = int.from_bytes(stream.encode()[:8].ljust(8, b"\0"), "little")
    rng = np.random.default_rng([seed, stream_id])
    params = _identity_params(rng, identities)
    labels = np.repeat(np.arange(identities), images_per_identity)
    images = render({k: v[labels] for k, v in params.items()}, rng, size)
    classes = [f"{prefix}_{stream}_{i:04d}" for i in range(identities)]
    names = [
        f"{classes[c]}/{classes[c]}_{j + 1:04d}.jpg" for c in range(identities) for j in range(images_per_identity)
    ]
    return ImageArray(images, labels, names, classes)


def write_synthetic_lfw(
    directory: str | Path,
    *,
    identities: int = 20,
    images_per_identity: int = 4,
    folds: int = 10,
    pairs_per_fold: int = 6,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``<directory>/lfw/<Person>/<Person>_NNNN.jpg`` and an LFW View 2 ``pairs.txt``.

    Each person is in exactly one fold, as in LFW; every fold has ``pairs_per_fold // 2`` matched then
    as many mismatched pairs. Returns (image folder, pairs.txt).
    """
    directory = Path(directory)
    faces = synthetic_faces(
        identities=identities, images_per_identity=images_per_identity, seed=seed, stream="lfw", prefix="Synth"
    )
    root = directory / "lfw"
    for name, im in zip(faces.names, faces.images):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(root / name, quality=95)
    idx = draw_pairs(faces.labels, pairs=pairs_per_fold * folds, folds=folds, seed=seed)
    per = pairs_per_fold // 2
    if idx.num_folds != folds or np.bincount(idx.fold).min() != 2 * per:
        raise ValueError(
            f"{identities} identities x {images_per_identity} images cannot give {folds} folds of "
            f"{pairs_per_fold} pairs"
        )
    lines = [f"{folds}\t{per}"]
    for f in range(folds):
        for same in (True, False):
            sel = np.flatnonzero((idx.fold == f) & (idx.same == same))
            lines += [_pair_line(faces, int(idx.a[i]), int(idx.b[i]), same) for i in sel]
    pairs = directory / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root, pairs


def _pair_line(faces: ImageArray, a: int, b: int, same: bool) -> str:
    (pa, na), (pb, nb) = (_split_name(faces.names[i]) for i in (a, b))
    return f"{pa}\t{na}\t{nb}" if same else f"{pa}\t{na}\t{pb}\t{nb}"


def _split_name(name: str) -> tuple[str, int]:
    person, _, stem = name.rpartition("/")[2].rpartition(".")[0].rpartition("_")
    return person, int(stem)
