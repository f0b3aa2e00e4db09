"""Classification heads: softmax CE and the normalised-softmax family with angular / cosine margins.

Every head: ``head(embeddings, labels, norms=None) -> {"loss", "logits"}`` where ``logits`` are the
(B, C) float32 logits the cross-entropy was computed on (margin applied to the target column), and
``head.logits(embeddings)`` gives the inference logits (no margin: ``s*cos`` for normalised heads, the
linear layer for CE). Everything is computed in float32 with autocast off: at s=64 a bf16 logit
carries a rounding error of ~0.25, larger than the margins being compared.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# cos is clamped to [-1+EPS, 1-EPS] before acos: d/dx acos(x) = -1/sqrt(1-x^2) is infinite at +-1.
EPS = 1e-6


def _no_autocast(x: torch.Tensor):
    return torch.autocast(x.device.type, enabled=False)


def _theta(cos: torch.Tensor) -> torch.Tensor:
    return torch.acos(cos.clamp(-1.0 + EPS, 1.0 - EPS))


def _set_target(cos: torch.Tensor, labels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return cos.scatter(1, labels.view(-1, 1), target.view(-1, 1))


def _target(cos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return cos.gather(1, labels.view(-1, 1)).squeeze(1)


class SoftmaxCE(nn.Module):
    """Softmax cross-entropy with a linear (bias) classifier on the raw embedding."""

    def __init__(self, *, embedding_size: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(embedding_size, num_classes)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        with _no_autocast(embeddings):
            return F.linear(embeddings.float(), self.fc.weight.float(), self.fc.bias.float())

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        del norms  # the linear head sees the raw embedding, norm included
        logits = self.logits(embeddings)
        return {"loss": F.cross_entropy(logits, labels), "logits": logits}


class CosineHead(nn.Module):
    """Normalised softmax (NormFace, the ``normsoftmax`` loss): logits ``s * cos(theta_j)``; subclasses edit
    the target column."""

    def __init__(self, *, embedding_size: int, num_classes: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.normal_(self.weight, std=0.01)  # InsightFace's init; only the direction matters
        self.scale = float(scale)

    def cosine(self, embeddings: torch.Tensor) -> torch.Tensor:
        with _no_autocast(embeddings):
            return F.linear(F.normalize(embeddings.float(), dim=1), F.normalize(self.weight.float(), dim=1))

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosine(embeddings)

    def margin_logits(self, cos: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        del labels, norms
        return self.scale * cos

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, norms: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        with _no_autocast(embeddings):
            if norms is None:
                norms = embeddings.float().norm(dim=1)
            logits = self.margin_logits(self.cosine(embeddings), labels, norms.float())
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}


class SphereFace(CosineHead):
    """SphereFace multiplicative angular margin psi = (-1)^k cos(m theta) - 2k, OpenSphere formulation."""

    def __init__(self, *, embedding_size: int, num_classes: int, scale: float, margin: float) -> None:
        super().__init__(embedding_size=embedding_size, num_classes=num_classes, scale=scale)
        self.margin = float(margin)

    def margin_logits(self, cos, labels, norms):
        cos_t = _target(cos, labels)
        with torch.no_grad():  # "characteristic gradient detachment": the margin shifts the value only
            m_theta = self.margin * _theta(cos_t)
            k = torch.floor(m_theta / math.pi)
            psi = (1.0 - 2.0 * torch.remainder(k, 2.0)) * torch.cos(m_theta) - 2.0 * k
            shift = psi - cos_t
        return self.scale * _set_target(cos, labels, cos_t + shift)


class CosFace(CosineHead):
    """CosFace / AM-Softmax: target logit s*(cos theta - m)."""

    def __init__(self, *, embedding_size: int, num_classes: int, scale: float, margin: float) -> None:
        super().__init__(embedding_size=embedding_size, num_classes=num_classes, scale=scale)
        self.margin = float(margin)

    def margin_logits(self, cos, labels, norms):
        return self.scale * _set_target(cos, labels, _target(cos, labels) - self.margin)


def arc_target(cos_t: torch.Tensor, margin: float) -> torch.Tensor:
    """cos(theta + m) where theta + m <= pi, else the linear continuation cos theta - m sin m.

    cos(theta + m) stops decreasing once theta + m > pi, which would reward pushing the sample away from
    its class; InsightFace (th = cos(pi - m), mm = sin(pi - m) * m) and pytorch-metric-learning switch to
    cos theta - m sin m there, which keeps the target logit monotone and its gradient finite.
    """
    theta = _theta(cos_t)
    return torch.where(theta <= math.pi - margin, torch.cos(theta + margin), cos_t - margin * math.sin(margin))


class ArcFace(CosineHead):
    """ArcFace additive angular margin: target logit s*cos(theta + m)."""

    def __init__(self, *, embedding_size: int, num_classes: int, scale: float, margin: float) -> None:
        super().__init__(embedding_size=embedding_size, num_classes=num_classes, scale=scale)
        self.margin = float(margin)

    def margin_logits(self, cos, labels, norms):
        return self.scale * _set_target(cos, labels, arc_target(_target(cos, labels), self.margin))


class CurricularFace(CosineHead):
    """CurricularFace: ArcFace target, hard negatives (cos_j > cos(theta_y + m)) become cos_j (t + cos_j)."""

    # t starts at 0 (the paper's eq. 10-11); the published s, m and momentum are in facebench.losses.
    def __init__(self, *, embedding_size: int, num_classes: int, scale: float, margin: float, t_alpha: float) -> None:
        super().__init__(embedding_size=embedding_size, num_classes=num_classes, scale=scale)
        self.margin, self.t_alpha = float(margin), float(t_alpha)
        self.register_buffer("t", torch.zeros(()))

    def margin_logits(self, cos, labels, norms):
        cos_t = _target(cos, labels)
        target = arc_target(cos_t, self.margin)
        with torch.no_grad():  # the paper's code compares with cos(theta + m) even past the fallback point
            hard = cos > torch.cos(_theta(cos_t) + self.margin).unsqueeze(1)
        if self.training:  # the EMA of the mean target cosine, updated before use as in the paper's code
            with torch.no_grad():
                self.t.mul_(1.0 - self.t_alpha).add_(self.t_alpha * cos_t.mean())
        modulated = torch.where(hard, cos * (self.t + cos), cos)
        return self.scale * _set_target(modulated, labels, target)


class AdaFace(CosineHead):
    """AdaFace: margin adapted to image quality through the feature norm (Kim et al., CVPR 2022).

    z = clip(h * (||f|| - mu_norm) / (sigma_norm + eps), -1, 1) with EMA batch statistics; the target
    logit is s * (cos(theta - m z) - (m + m z)). h = 0 gives z = 0, i.e. CosFace with margin m.
    """

    NORM_EPS = 1e-3  # AdaFace's eps: clamp of cos and of theta, and the std denominator

    # The EMA starts at mean 20, std 100 as in the reference code (mk-minchul/AdaFace, head.py).
    def __init__(
        self, *, embedding_size: int, num_classes: int, scale: float, margin: float, h: float, t_alpha: float
    ) -> None:
        super().__init__(embedding_size=embedding_size, num_classes=num_classes, scale=scale)
        self.margin, self.h, self.t_alpha = float(margin), float(h), float(t_alpha)
        self.register_buffer("batch_mean", torch.full((), 20.0))
        self.register_buffer("batch_std", torch.full((), 100.0))

    def margin_logits(self, cos, labels, norms):
        eps = self.NORM_EPS
        safe = norms.detach().clamp(0.001, 100.0)
        if self.training:
            with torch.no_grad():
                self.batch_mean.mul_(1.0 - self.t_alpha).add_(self.t_alpha * safe.mean())
                if safe.numel() > 1:  # the std of one sample is undefined; keep the running value
                    self.batch_std.mul_(1.0 - self.t_alpha).add_(self.t_alpha * safe.std())
        z = (self.h * (safe - self.batch_mean) / (self.batch_std + eps)).clamp(-1.0, 1.0)
        cos = cos.clamp(-1.0 + eps, 1.0 - eps)
        theta_t = _target(torch.acos(cos), labels)
        target = torch.cos((theta_t - self.margin * z).clamp(eps, math.pi - eps)) - (self.margin + self.margin * z)
        return self.scale * _set_target(cos, labels, target)
