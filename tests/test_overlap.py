"""Leakage and overlap by content: normalised names, same pixels (refused), near copies by pHash (reported)."""

from __future__ import annotations

import io
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from facebench.cli import main
from facebench.config import TrialConfig
from facebench.data import build_task_data
from facebench.data.images import decode_bytes, decode_file
from facebench.data.overlap import NEAR_BITS, THUMB, find_overlap, hamming, load_side, normalise, phash
from facebench.errors import LeakageError


def test_names_compared_after_normalisation():
    assert normalise("José_María Aznar") == normalise("jose maria aznar") == normalise("JOSE-MARIA.AZNAR")
    assert normalise("George_W_Bush") == normalise("george w bush") != normalise("George_H_W_Bush")


def test_phash_known_answer():
    """Against a reference written from the definition with an explicit DCT-II matrix: 2x2 block means to 32x32
    grey, C @ g @ C.T, the 8x8 lowest frequencies, a bit per coefficient above the median of the 63 non-DC ones,
    row-major, most significant bit first."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    k, x = np.arange(32)[:, None], np.arange(32)[None, :]
    c = np.sqrt(2 / 32) * np.cos(np.pi * (2 * x + 1) * k / 64)
    c[0] /= np.sqrt(2)
    want = []
    for im in img:
        g = im.astype(np.float64).mean(axis=2).reshape(32, 2, 32, 2).mean(axis=(1, 3))
        low = (c @ g @ c.T)[:8, :8].reshape(64)
        bits = low > np.median(low[1:])
        want.append(int("".join("1" if v else "0" for v in bits), 2))
    assert phash(img).tolist() == want
    assert hamming(np.array([0b1011], np.uint64), np.array([0, 0b1000, 2**64 - 1], np.uint64)).tolist() == [[3, 2, 61]]


def _copy(src, *, quality=None, scale=None) -> np.ndarray:
    im = Image.open(src).convert("RGB")
    if scale:
        im = im.resize((int(im.width * scale), int(im.height * scale)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality or 90)
    return decode_bytes(buf.getvalue(), where="copy", size=THUMB, crop=1.0, color="rgb")


def test_lfw_split_shows_no_overlap_and_copies_are_near(shared_data, tmp_path):
    """LFW's own person-disjoint split (people of folds 0-4, pairs of folds 5-9): nothing by the refusing rules, 3
    near pairs of different people at distance 4 (the threshold's known false positives); a JPEG q50 or half-size
    copy of a test image is a near match."""
    lfw = shared_data / "lfw"
    t0 = time.perf_counter()
    train = load_side(lfw, folds=[0, 1, 2, 3, 4], role="train", cache_dir=tmp_path)
    test = load_side(lfw, folds=[5, 6, 7, 8, 9], role="test", cache_dir=tmp_path)
    o = find_overlap(train, test)
    print(f"LFW overlap check: {len(train.names)} x {len(test.names)} images in {time.perf_counter() - t0:.1f} s")
    assert (len(train.names), len(test.names)) == (5373, 3890)
    assert o.identities == [] and o.exact == [] and not o.refused
    assert len(o.near) == 3 and {d for *_, d in o.near} == {4}
    for name in test.names[:40:8]:
        original = decode_file(lfw / "lfw-deepfunneled" / name, size=THUMB, crop=1.0, color="rgb")
        for copy in (
            _copy(lfw / "lfw-deepfunneled" / name, quality=50),
            _copy(lfw / "lfw-deepfunneled" / name, scale=0.5),
        ):
            assert hamming(phash(original[None]), phash(copy[None]))[0, 0] <= NEAR_BITS


def _renamed_copy(image_dir, tmp_path, people: dict[str, str]):
    root = tmp_path / "train"
    for src, dst in people.items():
        shutil.copytree(image_dir / src, root / dst)
    for k in range(6):  # people of no test fold, so the set trains
        (root / f"extra{k}").mkdir()
        for j in range(3):
            Image.fromarray(np.full((40, 40, 3), 40 * k + 10 * j, np.uint8)).save(root / f"extra{k}" / f"{j}.jpg")
    return root


def _cfg(root, test_root, **kv):
    return TrialConfig.from_dict(
        {
            "data.train": "identity_folder",
            "data.root": str(root),
            "data.test": "lfw",
            "data.test_root": str(test_root),
            "data.image_size": 16,
            **kv,
        }
    )


def test_renamed_test_people_are_refused(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    root = _renamed_copy(image_dir, tmp_path, {"Synth_lfw_0003": "synth lfw 0003"})
    with pytest.raises(LeakageError, match=r"synth lfw 0003 \(~ Synth_lfw_0003\)"):
        build_task_data(_cfg(root, image_dir.parent))


def test_test_images_under_another_name_refused_unless_allowed(synthetic_lfw, tmp_path):
    image_dir, _ = synthetic_lfw
    root = _renamed_copy(image_dir, tmp_path, {"Synth_lfw_0003": "someone_else"})
    with pytest.raises(LeakageError, match="same pixels as test images.*data.allow_test_images"):
        build_task_data(_cfg(root, image_dir.parent))
    td = build_task_data(_cfg(root, image_dir.parent, **{"data.allow_test_images": True}))
    assert td.describe["allow_test_images"] is True and td.describe["test_images_in_training"] >= 1


def test_data_overlap_command(synthetic_lfw, tmp_path, capsys):
    image_dir, _ = synthetic_lfw
    root = _renamed_copy(image_dir, tmp_path, {"Synth_lfw_0003": "SYNTH LFW 0003"})
    clean = tmp_path / "clean"
    shutil.copytree(root / "extra0", clean / "extra0")
    assert main(["data", "overlap", str(clean), str(image_dir.parent), "--cache-dir", str(tmp_path / "c")]) == 0
    assert "images with the same pixels: 0" in capsys.readouterr().out
    assert main(["data", "overlap", str(root), str(image_dir.parent), "--cache-dir", str(tmp_path / "c")]) == 2
    out, err = capsys.readouterr()
    assert "'SYNTH LFW 0003' ~ 'Synth_lfw_0003'" in out and "same pixels: " in out
    assert err.strip().splitlines()[-1].startswith("facebench: error:") and "shares 1 identities" in err
    with pytest.raises(SystemExit) as exit_:  # argparse refuses it: one line, exit 2
        main(["data", "overlap", str(root), str(image_dir.parent), "--near", "65"])
    assert exit_.value.code == 2 and "--near: 65 is out of range" in capsys.readouterr().err


def test_a_bin_eval_set_holding_a_training_image_is_refused_unless_allowed(synthetic_lfw, tmp_path):
    """``eval.sets`` are test sets too: a ``.bin`` one of whose 80 images is a training image (the same JPEG bytes)
    is refused before training like the main test set, and counted in the trial's description when allowed."""
    from facebench.data.binset import write_bin

    image_dir, _ = synthetic_lfw
    (tmp_path / "train").mkdir()
    root = _renamed_copy(image_dir, tmp_path, {})  # people of no test fold only
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(80):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(buf, format="PNG")
        blobs.append(buf.getvalue())
    clean = tmp_path / "clean.bin"
    write_bin(clean, blobs, [i % 2 == 0 for i in range(40)])
    blobs[7] = (root / "extra2" / "1.jpg").read_bytes()
    leaky = tmp_path / "leaky.bin"
    write_bin(leaky, blobs, [i % 2 == 0 for i in range(40)])
    td = build_task_data(_cfg(root, image_dir.parent, **{"eval.sets": str(clean)}))
    assert td.describe["eval_set_images_in_training"] == {"clean": 0}
    with pytest.raises(
        LeakageError,
        match=r"1 training images have the same pixels as test images of eval.sets "
        r"'leaky' .*extra2/1.jpg = leaky:7.*data.allow_test_images",
    ):
        build_task_data(_cfg(root, image_dir.parent, **{"eval.sets": str(leaky)}))
    td = build_task_data(
        _cfg(root, image_dir.parent, **{"eval.sets": f"{clean},{leaky}", "data.allow_test_images": True})
    )
    assert td.describe["eval_set_images_in_training"] == {"clean": 0, "leaky": 1}
