"""The embedding step: normalisation through to_input, batching, flip fusion, inference mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facebench.errors import ConfigError
from facebench.eval.embed import embed_images


def _encoder():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5))
    seen = []

    def encode(x):
        seen.append((x.min().item(), x.max().item(), x.requires_grad, torch.is_inference_mode_enabled()))
        return net(x)

    return net, encode, seen


def test_embeddings_batching_and_normalisation():
    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    net, encode, seen = _encoder()
    e3 = embed_images(encode, images, batch_size=3)
    e10 = embed_images(encode, images, batch_size=10)
    assert e3.shape == (10, 5) and e3.dtype == np.float32
    assert np.allclose(e3, e10, atol=1e-6)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        assert np.allclose(e10, net(x).numpy(), atol=1e-5)
    assert min(s[0] for s in seen) == -1.0 and max(s[1] for s in seen) == 1.0
    assert all(s[3] and not s[2] for s in seen)


def test_flip_fusion():
    images = np.random.default_rng(1).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    _, encode, _ = _encoder()
    plain = embed_images(encode, images, batch_size=4)
    mirrored = embed_images(encode, np.ascontiguousarray(images[:, :, ::-1]), batch_size=4)
    assert np.allclose(embed_images(encode, images, batch_size=2, flip="sum"), plain + mirrored, atol=1e-5)
    cat = embed_images(encode, images, batch_size=2, flip="concat")
    assert cat.shape == (4, 10) and np.allclose(cat, np.concatenate([plain, mirrored], 1), atol=1e-5)


def test_bad_arguments():
    _, encode, _ = _encoder()
    images = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ConfigError, match="eval.flip 'both'"):
        embed_images(encode, images, batch_size=2, flip="both")
    with pytest.raises(ConfigError, match="uint8"):
        embed_images(encode, images.astype(np.float32), batch_size=2)
