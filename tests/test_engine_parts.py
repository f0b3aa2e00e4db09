"""Augmentation presets and checkpoint/RNG round trips (no data, model or loss needed)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from facebench.data import AUGMENTATIONS
from facebench.data.augment import color_jitter, crop_padding, get_augmentation, random_crop, random_flip
from facebench.engine.checkpoint import (
    check_same_config,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
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
    assert not torch.equal(
        get_augmentation("crop_flip_jitter")(x, gen(1)), get_augmentation("crop_flip_jitter")(x, gen(2))
    )


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
        hits = [
            (dy, dx) for dy in range(9) for dx in range(9) if torch.equal(padded[i, dy : dy + 32, dx : dx + 32], y[i])
        ]
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


def test_any_damaged_checkpoint_is_one_config_error(tmp_path):
    """Random bytes fail anywhere in torch's unpickler (KeyError and IndexError as well as UnpicklingError): 300
    seeded files, each refused as not readable, none escaping as another exception (a traceback for the user)."""
    import random

    path = tmp_path / "checkpoint.pt"
    refused = 0
    for seed in range(300):
        path.write_bytes(random.Random(seed).randbytes(4096))
        with pytest.raises(ConfigError, match="not a readable facebench checkpoint"):
            load_checkpoint(path)
        refused += 1
    assert refused == 300


def test_importing_the_engine_imports_no_ray():
    code = (
        "import sys, facebench.engine, facebench.engine.trial, facebench.engine.cli; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- memory errors and SIGTERM under `facebench train` ---------------------------------------------------


def _tiny_args(out):
    from bad_inputs import TINY, sets

    return ["train", *sets(TINY), "--out", str(out), "--quiet"]


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate"),
    ],
)
def test_out_of_memory_in_train_is_one_line_naming_what_to_reduce(error, tmp_path, monkeypatch, capsys):
    from facebench.cli import main
    from facebench.engine import trial

    def run_epoch(*a, **k):
        raise error

    monkeypatch.setattr(trial, "_run_epoch", run_epoch)
    assert main(_tiny_args(tmp_path / "t")) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facebench: error:"), err
    assert "out of memory while training" in lines[0] and "train.batch_size (now 8)" in lines[0], lines[0]
    assert "data.image_size (now 24)" in lines[0] and "Traceback" not in err + out
    assert json.loads((tmp_path / "t" / "result.json").read_text())["reason"] == "out of memory"


def test_out_of_memory_in_embed_is_one_line(tmp_path, monkeypatch, capsys):
    from facebench.cli import main
    from facebench.engine import use

    def embed(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(use, "embed_dataset", embed)
    assert main(["embed", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "e.npz")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "out of memory while embedding" in lines[0] and "eval.batch_size" in lines[0], lines


def test_sigterm_ends_train_like_ctrl_c_and_the_trial_resumes(tmp_path):
    """The trial pauses at its 2nd checkpoint write (a fault hook: epoch 1 is saved, epoch 2's file is complete but
    not in place); the test waits for that marker, sends SIGTERM, and expects the Ctrl-C outcome."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from bad_inputs import TINY, sets

    repo, pause, out = Path(__file__).resolve().parents[1], tmp_path / "pause", tmp_path / "t"
    pause.mkdir()
    args = [
        sys.executable,
        "-m",
        "facebench.cli",
        "train",
        *sets({**TINY, "train.epochs": 3}),
        "--out",
        str(out),
        "--quiet",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "FACEBENCH_CACHE": str(tmp_path / "cache"),
        "FACEBENCH_PAUSE_AT": "write:checkpoint.pt:2",
        "FACEBENCH_PAUSE_DIR": str(pause),
    }
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not list(pause.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the trial's own marker, not guessing a duration
        assert list(pause.glob("*.json")), proc.communicate(timeout=10)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines() == ["facebench: interrupted"], stderr[-2000:]
    assert not list(out.glob(".*.tmp")), "the interrupted write left its temp file"
    env.pop("FACEBENCH_PAUSE_AT")
    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["resumed_from_epoch"] == 1 and json.loads((out / "result.json").read_text())["epochs_completed"] == 3
