"""Reconstruction objectives: the VAE's recon + beta*KL and the plain AE's recon.

``objective(out, target, epoch) -> {"loss", "recon", "kld", "beta"}`` (0-d float32 tensors), where
``out`` is an autoencoder's output dict and ``epoch`` the training progress in (fractional) epochs.

recon is the squared error summed over C*H*W per image then averaged over the batch (``sum``, the
Gaussian log-likelihood of Kingma & Welling up to constants) or averaged per pixel (``mean``). The
two differ by the factor C*H*W, so the same objective needs beta_mean = beta_sum / (C*H*W): beta=1
with ``sum`` is the ELBO, and beta=1 with ``mean`` at 3x64x64 weighs the KL 12,288 times more.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

REDUCTIONS = ("sum", "mean")


def reconstruction_error(recon: torch.Tensor, target: torch.Tensor, reduction: str) -> torch.Tensor:
    err = F.mse_loss(recon.float(), target.float(), reduction="none")
    if reduction == "sum":
        return err.flatten(1).sum(1).mean()
    if reduction == "mean":
        return err.mean()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)), batch mean."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


class AEObjective(nn.Module):
    """Autoencoder / denoising autoencoder: reconstruction error of the clean target only."""

    def __init__(self, *, recon_reduction: str) -> None:
        super().__init__()
        self.reduction = recon_reduction

    def forward(
        self, out: dict[str, torch.Tensor], target: torch.Tensor, epoch: float = 0.0
    ) -> dict[str, torch.Tensor]:
        del epoch
        recon = reconstruction_error(out["recon"], target, self.reduction)
        zero = torch.zeros((), device=recon.device)
        return {"loss": recon, "recon": recon.detach(), "kld": zero, "beta": zero}


class VAEObjective(nn.Module):
    """VAE: recon + beta * KL (beta-VAE, Higgins et al. 2017), optional linear beta warm-up."""

    def __init__(self, *, beta: float, beta_warmup_epochs: int, recon_reduction: str) -> None:
        super().__init__()
        self.beta, self.warmup, self.reduction = float(beta), int(beta_warmup_epochs), recon_reduction

    def beta_at(self, epoch: float) -> float:
        """beta * min(1, epoch / warmup): 0 at the start of training, the full beta after the warm-up."""
        if self.warmup <= 0:
            return self.beta
        return self.beta * min(1.0, max(0.0, float(epoch)) / self.warmup)

    def forward(
        self, out: dict[str, torch.Tensor], target: torch.Tensor, epoch: float = 0.0
    ) -> dict[str, torch.Tensor]:
        recon = reconstruction_error(out["recon"], target, self.reduction)
        kld = gaussian_kl(out["mu"], out["logvar"])
        beta = self.beta_at(epoch)
        return {
            "loss": recon + beta * kld,
            "recon": recon.detach(),
            "kld": kld.detach(),
            "beta": torch.tensor(beta, device=recon.device),
        }
