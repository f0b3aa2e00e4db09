"""Heads and objectives: hand-computed logits, independent oracles, edge cases, the VAE objective."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
import torch.nn.functional as F

from facebench.config import TrialConfig
from facebench.engine.build import build_loss
from facebench.errors import ConfigError
from facebench.losses import LOSSES, create_loss
from facebench.losses.reconstruction import VAEObjective

HEADS = [n for n in LOSSES.names() if n not in ("ae", "vae")]
S = 64.0


def make_loss(name: str, embedding_size: int = 2, num_classes: int = 3, **extra) -> torch.nn.Module:
    recon = name in ("ae", "vae")
    values = {
        "task": "autoencoder" if recon else "face",
        "loss.name": name,
        "model.backbone": "vae" if name == "vae" else ("ae" if recon else "resnet18"),
        **extra,
    }
    cfg = TrialConfig.from_dict(values)
    return build_loss(cfg, embedding_size=embedding_size, num_classes=num_classes)


# -- the tiny fixed example ------------------------------------------------------------------------
# Class centres on the unit circle at angles 0, pi/2, pi; samples at angles PHI (all labelled class 0),
# so theta_target = phi and the cosines to classes 1 and 2 are sin(phi) and -cos(phi).
PHI = (0.3, 1.2, 2.9)
NORMS = (10.0, 30.0, 20.0)


def _example(head: torch.nn.Module):
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]) * 0.7)  # any norm: normalised
    emb = torch.tensor([[n * math.cos(p), n * math.sin(p)] for p, n in zip(PHI, NORMS)])
    return emb, torch.zeros(len(PHI), dtype=torch.long)


def _non_target(phi: float) -> list[float]:
    return [math.sin(phi), -math.cos(phi)]


def _ce(rows: list[list[float]]) -> float:
    """Cross-entropy with target column 0, by hand."""
    return sum(math.log(sum(math.exp(v) for v in r)) - r[0] for r in rows) / len(rows)


def _check(head, rows: list[list[float]], norms=None):
    emb, labels = _example(head)
    out = head(emb, labels, norms)
    torch.testing.assert_close(out["logits"], torch.tensor(rows), atol=1e-4, rtol=1e-5)
    assert out["loss"].item() == pytest.approx(_ce(rows), rel=1e-5)
    return out


def test_known_answer_cosface():
    m = 0.35
    _check(make_loss("cosface"), [[S * (math.cos(p) - m)] + [S * c for c in _non_target(p)] for p in PHI])


def test_known_answer_arcface_including_the_fallback_past_pi():
    m = 0.5

    def target(phi):  # 2.9 + 0.5 > pi: the linear continuation cos(theta) - m sin(m)
        return math.cos(phi + m) if phi + m <= math.pi else math.cos(phi) - m * math.sin(m)

    assert PHI[2] + m > math.pi
    _check(make_loss("arcface"), [[S * target(p)] + [S * c for c in _non_target(p)] for p in PHI])


def test_known_answer_sphereface():
    s, m = 30.0, 1.5

    def psi(phi):
        k = math.floor(m * phi / math.pi)
        return (-1) ** k * math.cos(m * phi) - 2 * k

    assert [math.floor(m * p / math.pi) for p in PHI] == [0, 0, 1]
    _check(make_loss("sphereface"), [[s * psi(p)] + [s * c for c in _non_target(p)] for p in PHI])


def test_known_answer_normsoftmax_and_ce():
    _check(make_loss("normsoftmax"), [[S * math.cos(p)] + [S * c for c in _non_target(p)] for p in PHI])
    ce = make_loss("ce")
    emb = torch.tensor([[1.0, 2.0]])
    with torch.no_grad():
        ce.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        ce.fc.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
    out = ce(emb, torch.tensor([0]))
    torch.testing.assert_close(out["logits"], torch.tensor([[1.5, 2.0, 2.0]]))
    assert out["loss"].item() == pytest.approx(_ce([[1.5, 2.0, 2.0]]), rel=1e-6)


def test_known_answer_curricularface_and_t_update():
    m, alpha = 0.5, 0.01
    head = make_loss("curricularface")
    t = alpha * statistics.fmean(math.cos(p) for p in PHI)  # t starts at 0 and is updated before use
    rows = []
    for p in PHI:
        target = math.cos(p + m) if p + m <= math.pi else math.cos(p) - m * math.sin(m)
        hard_at = math.cos(p + m)  # a negative is hard when its cosine beats cos(theta + m)
        rows.append([S * target] + [S * (c * (t + c) if c > hard_at else c) for c in _non_target(p)])
    assert rows[1][1] != S * _non_target(PHI[1])[0]  # the example does contain a hard negative
    _check(head, rows)
    assert head.t.item() == pytest.approx(t, rel=1e-6)
    emb, labels = _example(head)
    head(emb, labels)
    assert head.t.item() == pytest.approx((1 - alpha) * t + t, rel=1e-6)  # the same batch again
    head.eval()
    head(emb, labels)
    assert head.t.item() == pytest.approx((1 - alpha) * t + t, rel=1e-6)  # no update outside training


def test_known_answer_adaface():
    m, h = 0.4, 0.333
    head = make_loss("adaface", **{"loss.t_alpha": 1.0})  # alpha 1: the EMA is this batch's statistics
    mean, std = statistics.fmean(NORMS), statistics.stdev(NORMS)
    rows = []
    for p, n in zip(PHI, NORMS):
        z = max(-1.0, min(1.0, h * (n - mean) / (std + 1e-3)))
        target = math.cos(min(max(p - m * z, 1e-3), math.pi - 1e-3)) - (m + m * z)
        rows.append([S * target] + [S * c for c in _non_target(p)])
    _check(head, rows, norms=torch.tensor(NORMS))
    assert head.batch_mean.item() == pytest.approx(mean) and head.batch_std.item() == pytest.approx(std)
    # norms=None means the norms of the embeddings themselves, which are NORMS here
    head2 = make_loss("adaface", **{"loss.t_alpha": 1.0})
    _check(head2, rows)


def test_adaface_with_h_zero_is_cosface():
    torch.manual_seed(0)
    ada = make_loss("adaface", 16, 10, **{"loss.h": 0.0})
    cos = make_loss("cosface", 16, 10, **{"loss.margin": 0.4})
    cos.weight.data.copy_(ada.weight.data)
    emb, labels = torch.randn(8, 16) * 5, torch.randint(0, 10, (8,))
    a, c = ada(emb, labels), cos(emb, labels)
    torch.testing.assert_close(a["logits"], c["logits"], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(a["loss"], c["loss"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["arcface", "cosface"])
def test_agrees_with_pytorch_metric_learning(name):
    pml = pytest.importorskip("pytorch_metric_learning.losses")
    torch.manual_seed(0)
    d, c = 8, 5
    ours = make_loss(name, d, c)
    if name == "arcface":  # pml's ArcFace margin is in degrees
        theirs = pml.ArcFaceLoss(num_classes=c, embedding_size=d, margin=math.degrees(0.5), scale=64)
    else:
        theirs = pml.CosFaceLoss(num_classes=c, embedding_size=d, margin=0.35, scale=64)
    theirs.W.data.copy_(ours.weight.data.t())  # pml stores W as (D, C)
    emb, labels = torch.randn(32, d), torch.randint(0, c, (32,))
    emb[0] = -ours.weight.data[labels[0]]  # theta = pi: the ArcFace fallback branch in both
    expected = theirs(emb, labels)
    assert ours(emb, labels)["loss"].item() == pytest.approx(expected.item(), rel=1e-4)


@pytest.mark.parametrize("name", HEADS)
def test_every_head_shapes_and_finite_gradients_at_cos_plus_minus_one(name):
    torch.manual_seed(0)
    head = make_loss(name, 4, 3)
    w = head.weight if hasattr(head, "weight") else head.fc.weight
    # rows exactly on a class centre (cos = +1 to the target) and exactly opposite (cos = -1)
    emb = torch.cat([w.detach()[:2] * 3, -w.detach()[2:] * 2, torch.randn(2, 4)]).requires_grad_()
    labels = torch.tensor([0, 1, 2, 0, 1])
    out = head(emb, labels)
    assert out["logits"].shape == (5, 3) and out["logits"].dtype == torch.float32
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert torch.isfinite(emb.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    assert head.logits(emb).shape == (5, 3)


@pytest.mark.parametrize("name", HEADS)
def test_logits_float32_under_bf16_autocast(name):
    torch.manual_seed(0)
    head = make_loss(name, 16, 4)
    layer = torch.nn.Linear(8, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emb = layer(torch.randn(6, 8))
        assert emb.dtype == torch.bfloat16
        out = head(emb, torch.randint(0, 4, (6,)))
        inference = head.logits(emb)
    assert out["logits"].dtype == inference.dtype == torch.float32
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])


def test_margin_heads_inference_logits_have_no_margin():
    head = make_loss("arcface")
    emb, labels = _example(head)
    expected = [[S * math.cos(p)] + [S * c for c in _non_target(p)] for p in PHI]
    torch.testing.assert_close(head.logits(emb), torch.tensor(expected), atol=1e-4, rtol=1e-5)


def test_build_loss_defaults_and_overrides():
    arc = make_loss("arcface")
    assert (arc.scale, arc.margin) == (64.0, 0.5)
    arc = make_loss("arcface", **{"loss.scale": 30, "loss.margin": 0.3})
    assert (arc.scale, arc.margin) == (30.0, 0.3)
    assert make_loss("curricularface", **{"loss.t_alpha": 0.1}).t_alpha == 0.1
    ada = make_loss("adaface")
    assert (ada.scale, ada.margin, ada.h, ada.t_alpha) == (64.0, 0.4, 0.333, 0.01)
    assert (make_loss("cosface").margin, make_loss("sphereface").margin) == (0.35, 1.5)


@pytest.mark.parametrize(
    "name, extra", [("normsoftmax", {"loss.margin": 0.2}), ("cosface", {"loss.recon_reduction": "mean"})]
)
def test_build_loss_rejects_unused_keys(name, extra):
    with pytest.raises(ConfigError, match=r"loss\.\w+ is only used by loss.name .*, not"):
        make_loss(name, **extra)


# -- reconstruction objectives ---------------------------------------------------------------------


def test_vae_kl_closed_form_by_hand():
    vae = make_loss("vae")
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    x = torch.zeros(2, 1, 2, 2)
    out = vae({"recon": x + 0.5, "mu": mu, "logvar": logvar}, x, epoch=3.0)
    # row 1: 1/2 [(1 + 1 - 1 - 0) + (0 + 2 - 1 - ln 2)]; row 2: 0; mean over the batch
    kl = 0.5 * (0.5 * (1.0 + 1.0 - math.log(2.0)))
    assert out["kld"].item() == pytest.approx(kl, rel=1e-6)
    assert out["recon"].item() == pytest.approx(4 * 0.25)  # sum over 1x2x2 pixels, mean over images
    assert out["loss"].item() == pytest.approx(1.0 + kl, rel=1e-6)
    assert out["beta"].item() == 1.0


def test_recon_reductions_differ_by_pixel_count():
    torch.manual_seed(0)
    x, r = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    out = {"recon": r, "mu": torch.zeros(3, 4), "logvar": torch.zeros(3, 4)}
    total = make_loss("vae")(out, x)["recon"]
    per_pixel = make_loss("vae", **{"loss.recon_reduction": "mean"})(out, x)["recon"]
    torch.testing.assert_close(total, per_pixel * 3 * 8 * 8)
    torch.testing.assert_close(per_pixel, F.mse_loss(r, x))


def test_beta_warmup_is_linear_in_fractional_epochs():
    vae = VAEObjective(beta=4.0, beta_warmup_epochs=2, recon_reduction="sum")
    assert [vae.beta_at(e) for e in (0.0, 0.5, 1.0, 2.0, 7.5)] == [0.0, 1.0, 2.0, 4.0, 4.0]
    assert make_loss("vae", **{"loss.beta": 4.0, "loss.beta_warmup_epochs": 2}).beta_at(0.5) == 1.0


def test_beta_zero_vae_trains_as_an_ae():
    from facebench.engine.build import build_model

    torch.manual_seed(0)
    cfg = TrialConfig.from_dict(
        {
            "task": "autoencoder",
            "model.backbone": "vae",
            "loss.name": "vae",
            "loss.beta": 0.0,
            "data.image_size": 16,
            "model.depth": 2,
            "model.embedding_size": 8,
            "model.width": 0.25,
        }
    )
    model, objective = build_model(cfg), build_loss(cfg, embedding_size=8, num_classes=1)
    ramp = torch.linspace(-1, 1, 16)
    x = torch.stack([torch.outer(ramp, ramp) * sign for sign in (1, -1)]).unsqueeze(1).repeat(2, 3, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        out = objective(model(x), x, epoch=0.0)
        assert out["loss"].item() == pytest.approx(out["recon"].item()) and out["beta"].item() == 0.0
        assert out["kld"].item() > 0  # still reported, just not weighted
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.7 * losses[0]


def test_ae_objective_has_zero_kl_and_beta():
    ae = make_loss("ae")
    x = torch.zeros(2, 3, 4, 4)
    out = ae({"recon": x + 1.0, "embedding": torch.zeros(2, 8)}, x, epoch=1.0)
    assert out["loss"].item() == pytest.approx(48.0) and out["kld"].item() == 0.0 and out["beta"].item() == 0.0


def test_a_head_builds_from_plain_keyword_arguments_without_a_config():
    """ArcFace from its keyword arguments, by hand: an embedding at 60 degrees from its class centre and 30 from
    the other gets the target logit s * cos(pi/3 + m) and the other s * cos(pi/6)."""
    head = create_loss("arcface", embedding_size=2, num_classes=2, scale=10.0, margin=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
    out = head(torch.tensor([[1.0, math.sqrt(3.0)]]), torch.tensor([0]))
    want = torch.tensor([[10.0 * math.cos(math.pi / 3 + 0.5), 10.0 * math.cos(math.pi / 6)]])
    torch.testing.assert_close(out["logits"], want)
    with pytest.raises(TypeError):  # the class has no defaults of its own: the declaration is the only one...
        LOSSES.get("arcface").load()(embedding_size=2, num_classes=2, scale=10.0)
    # ...which create_loss applies to a key left out (ArcFace's declared margin, 0.5)
    same = create_loss("arcface", embedding_size=2, num_classes=2, scale=10.0)
    assert same.margin == 0.5 == LOSSES.get("arcface").params["margin"].default
