"""Augmentation presets and checkpoint/RNG round trips (no data, model or loss needed)."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from facebench.data import AUGMENTATIONS
from facebench.data.augment import (color_jitter, crop_padding, get_augmentation, random_crop,
                                      random_flip)
from facebench.engine.checkpoint import (check_same_config, load_checkpoint, rng_state, save_checkpoint,
                                         seed_everything, set_rng_state)
from facebench.errors import ConfigError


def batch(n=8, size=32, c=3, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, size, size, c), generator=g, dtype=torch.uint8)


def gen(seed=0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_presets_keep_shape_dtype_and_are_seeded():
    x = batch()
    assert AUGMENTATIONS.names() == ["crop_flip", "crop_flip_jitter", "flip", "none"]
    for name in AUGMENTATIONS.names():
        a, b = get_augmentation(name)(x, gen(1)), get_augmentation(name)(x, gen(1))
        assert a.shape == x.shape and a.dtype == torch.uint8
        assert torch.equal(a, b)
    assert torch.equal(get_augmentation("none")(x, gen()), x)
    assert not torch.equal(get_augmentation("crop_flip_jitter")(x, gen(1)), get_augmentation("crop_flip_jitter")(x, gen(2)))


def test_flip_mirrors_exactly_the_chosen_images():
    x = batch(n=64)
    y = random_flip(x, gen(3))
    flipped = [torch.equal(y[i], x[i].flip(1)) for i in range(64)]
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48  # about half


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    assert crop_padding(32) == 4 and crop_padding(64) == 8 and crop_padding(112) == 14
    x = batch(n=16, size=32)
    y = random_crop(x, gen(5))
    padded = torch.nn.functional.pad(x, (0, 0, 4, 4, 4, 4))
    for i in range(16):
        # Brute force: exactly one of the 81 windows (or several if identical) matches.
        hits = [(dy, dx) for dy in range(9) for dx in range(9) if torch.equal(padded[i, dy:dy + 32, dx:dx + 32], y[i])]
        assert hits, f"image {i} is not a window of its padded original"


def test_color_jitter_matches_torchvision_for_fixed_factors():
    TF = pytest.importorskip("torchvision.transforms.functional")  # dev extra; absent beside a CPU-only torch

    x = batch(n=4, size=8)
    # Factors drawn by color_jitter with this generator, in its order: brightness, contrast, saturation.
    g = gen(7)
    factors = [torch.rand(4, generator=g) * 0.8 + 0.6 for _ in range(3)]
    y = color_jitter(x, gen(7))
    for i in range(4):
        img = x[i].permute(2, 0, 1).float() / 255
        img = TF.adjust_brightness(img, factors[0][i].item())
        img = TF.adjust_contrast(img, factors[1][i].item())
        img = TF.adjust_saturation(img, factors[2][i].item())
        ref = (img * 255).permute(1, 2, 0)
        assert (y[i].float() - ref).abs().max() <= 1.01  # uint8 rounding of the intermediate steps


def test_gray_images_are_jittered_without_saturation():
    x = batch(n=4, size=8, c=1)
    y = get_augmentation("crop_flip_jitter")(x, gen(0))
    assert y.shape == x.shape


def test_rng_state_round_trip_through_weights_only_checkpoint(tmp_path):
    seed_everything(123)
    g = gen(9)
    torch.rand(3, generator=g)
    state = rng_state(g)
    save_checkpoint(tmp_path / "c.pt", {"rng": state, "config": {"a": 1, "b": None}})
    expected = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g))
    random.random(), np.random.rand(), torch.rand(5)  # move every RNG on
    loaded = load_checkpoint(tmp_path / "c.pt")  # weights_only=True inside
    set_rng_state(loaded["rng"], g)
    got = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=g))
    assert got[0] == expected[0] and got[1] == expected[1]
    assert torch.equal(got[2], expected[2]) and torch.equal(got[3], expected[3])


def test_checkpoint_is_atomic_and_config_mismatch_is_named(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})
    save_checkpoint(path, {"epoch": 2})
    assert load_checkpoint(path)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind
    check_same_config(path, {"optim.lr": 0.1}, {"optim.lr": 0.1})
    with pytest.raises(ConfigError, match=r"optim\.lr: checkpoint 0\.1 vs now 0\.2"):
        check_same_config(path, {"optim.lr": 0.1}, {"optim.lr": 0.2})


def test_importing_the_engine_imports_no_ray():
    code = ("import sys, facebench.engine, facebench.engine.trial, facebench.engine.cli; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
