"""What the test pass measures beyond the eval metrics: reconstructions, latent activity, the classification record.

Files go under ``<trial_dir>/artefacts/`` (layout in docs/architecture.md) through ``facebench.artefacts``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..artefacts import save_npz
from ..data.transforms import to_input, to_uint8
from ..io import atomic_write_bytes, atomic_write_json

RECON_IMAGES = 16
ACTIVE_UNIT_VARIANCE = 0.01  # Burda et al. 2016: a latent is active if Var_x(E[z|x]) > 0.01


def classification_summary(res: dict[str, Any]) -> dict[str, float]:
    keys = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "auroc", "auprc")
    return {f"test_{k}": float(res[k]) for k in keys}


def write_classification(path: Path, res: dict[str, Any]) -> None:
    """``facebench.eval.classification_metrics``' result, with the count matrix as ``confusion_matrix``."""
    body = {k: v for k, v in res.items() if k not in ("confusion", "confusion_normalized")}
    body["confusion_matrix"] = np.asarray(res["confusion"]).tolist()
    body["confusion_normalized"] = np.asarray(res["confusion_normalized"]).tolist()
    atomic_write_json(path, body)


def _forward_batches(model: torch.nn.Module, images: np.ndarray, *, batch_size: int, device: torch.device):
    for i in range(0, len(images), batch_size):
        x = to_input(torch.from_numpy(np.array(images[i : i + batch_size])).to(device))  # the cache memmap is read-only
        yield model(x)


def write_reconstructions(out_dir: Path, model: torch.nn.Module, images: np.ndarray, *, device: torch.device) -> None:
    """``recon.npz`` (original, recon: uint8 NHWC) and ``recon.png``: originals above reconstructions."""
    n = min(RECON_IMAGES, len(images))
    out = next(_forward_batches(model, images[:n], batch_size=n, device=device))
    original = np.ascontiguousarray(images[:n])
    recon = to_uint8(out["recon"]).cpu().numpy()
    save_npz(out_dir / "recon.npz", compressed=True, original=original, recon=recon)
    grid = np.concatenate([np.concatenate(list(original), axis=1), np.concatenate(list(recon), axis=1)], axis=0)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(buf, format="PNG")
    atomic_write_bytes(out_dir / "recon.png", buf.getvalue())


def write_latents(
    path: Path, model: torch.nn.Module, images: np.ndarray, *, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Per-dimension variance of the embedding (mu) over the images and, for the VAE, mean KL per dimension.

    Returns ``latent_dims``, ``active_units`` (dimensions whose mu varies more than ``ACTIVE_UNIT_VARIANCE``)
    and, for the VAE, ``test_kld`` (KL summed over dimensions, averaged over images).
    """
    mus, kls = [], []
    for out in _forward_batches(model, images, batch_size=batch_size, device=device):
        mu = out.get("mu", out["embedding"]).float()
        mus.append(mu.cpu())
        if out.get("logvar") is not None:
            logvar = out["logvar"].float()
            kls.append((0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).sum(0).cpu())
    mu = torch.cat(mus).double()
    mu_var = mu.var(0, unbiased=False).numpy()
    arrays = {"mu_variance": mu_var, "mu_mean": mu.mean(0).numpy(), "threshold": np.array(ACTIVE_UNIT_VARIANCE)}
    metrics = {"latent_dims": float(mu_var.size), "active_units": float((mu_var > ACTIVE_UNIT_VARIANCE).sum())}
    if kls:
        kl_per_dim = (torch.stack(kls).sum(0) / len(mu)).double().numpy()
        arrays["kl_per_dim"] = kl_per_dim
        metrics["test_kld"] = float(kl_per_dim.sum())
    save_npz(path, compressed=True, **arrays)
    return metrics
