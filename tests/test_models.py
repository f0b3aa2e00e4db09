"""Backbones: every registry entry at 32/64/112 px, the CIFAR-10 loss study's parameter counts, config keys used or rejected."""

from __future__ import annotations

import pytest
import torch

from facebench.config import TrialConfig
from facebench.engine.build import build_model, complexity
from facebench.errors import ConfigError
from facebench.models import AUTOENCODER_BACKBONES, BACKBONES, create_model
from facebench.models.autoencoder import corrupt
from facebench.models.complexity import default_complexity, model_complexity, print_complexity_table

# The stem a real run would pick at each size; it also keeps the 112 px test cheap on CPU.
STEM_FOR_SIZE = {32: "cifar", 64: "stride2", 112: "imagenet"}


def make_cfg(backbone: str, size: int = 32, **extra) -> TrialConfig:
    ae = backbone in AUTOENCODER_BACKBONES
    values = {
        "task": "autoencoder" if ae else "face",
        "model.backbone": backbone,
        "data.image_size": size,
        "loss.name": ("vae" if backbone == "vae" else "ae") if ae else "arcface",
    }
    if ae:
        values["model.width"] = 0.5
    if backbone.startswith("iresnet"):
        values["model.width"] = 0.0625
    if backbone.startswith(("resnet", "plainnet")):
        values["model.width"] = 0.0625  # CPU-fast; the full-width counts are checked separately
        values["model.stem"] = STEM_FOR_SIZE.get(size, "cifar")
    values.update(extra)
    return TrialConfig.from_dict(values)


def _assert_finite_grads(model: torch.nn.Module) -> None:
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


# The deeper IResNets repeat iresnet18's block (their layouts are pinned by tests/test_iresnet.py); one size each
# keeps their 50-100 blocks from dominating the CPU run.
_DEEP = {"iresnet34", "iresnet50", "iresnet100"}
_CASES = [(n, s) for n in BACKBONES.names() for s in (32, 64, 112) if n not in _DEEP or s == 32]


@pytest.mark.parametrize("name, size", _CASES)
def test_every_backbone_forward_backward(name, size):
    torch.manual_seed(0)
    cfg = make_cfg(name, size)
    model = build_model(cfg).train()
    x = torch.rand(2, 3, size, size) * 2 - 1
    out = model(x)
    if name in AUTOENCODER_BACKBONES:
        assert model.is_autoencoder
        assert out["embedding"].shape == (2, model.embedding_size) == (2, 128)
        assert out["recon"].shape == x.shape and out["recon"].abs().max() <= 1.0
        assert out["target"] is x  # the clean input, also for the denoising AE
        assert ("mu" in out and "logvar" in out) == (name == "vae")
        loss = ((out["recon"] - x) ** 2).sum() + out["embedding"].pow(2).sum()
    else:
        assert not model.is_autoencoder
        assert out.shape == (2, model.embedding_size) == (2, 512)
        loss = out.pow(2).sum()
    loss.backward()
    _assert_finite_grads(model)
    model.eval()
    with torch.no_grad():
        emb = model.encode(x)
        again = model(x)
    emb2 = again["embedding"] if isinstance(again, dict) else again
    assert emb.shape == (2, model.embedding_size) and torch.isfinite(emb).all()
    torch.testing.assert_close(emb, emb2)


def test_cnn_seed_parameter_count_and_macs_by_hand():
    """The CIFAR-10 loss study: the baseline CNN with a 10-class linear head at 32x32x3 has 122,570 parameters."""
    got = default_complexity("cnn", 32, 10, neck=False)
    assert got["params"] == 122_570
    # valid 3x3 convs: 30*30 outputs x 32 ch x 27 taps, 13*13 x 64 x 288, 4*4 x 64 x 576; fc 1024->64; head 64->10
    assert got["macs"] == 30 * 30 * 32 * 27 + 13 * 13 * 64 * 288 + 4 * 4 * 64 * 576 + 1024 * 64 + 64 * 10
    assert got["flops"] == 2 * got["macs"]


def test_complexity_table_has_seed_resnet_counts(capsys):
    """The CIFAR-10 loss study's parameter table (10-class linear head, cifar stem, no neck, width 1): ResNet-18 11,173,962 and
    ResNet-50 23,520,842. Parameters do not depend on the input size (global pooling), so 16 px keeps the
    FLOP counting cheap."""
    print_complexity_table(image_size=16, num_classes=10)
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert sorted(rows) == BACKBONES.names()
    assert "11,173,962" in rows["resnet18"] and "23,520,842" in rows["resnet50"]
    assert "needs at least 18 px" in rows["cnn"]  # the cnn cannot take 16 px: a row saying why, not a crash


@pytest.mark.parametrize("stem, side", [("cifar", 32 // 8), ("stride2", 32 // 16), ("imagenet", 32 // 32)])
def test_stems_downsample(stem, side):
    model = build_model(make_cfg("resnet18", 32, **{"model.stem": stem})).eval()
    assert model.features(torch.zeros(1, 3, 32, 32)).shape[-1] == side


def test_neck_off_embedding_is_pooled_features_and_width_scales():
    assert build_model(make_cfg("resnet50", **{"model.neck": False})).embedding_size == 2048 // 16
    assert build_model(make_cfg("cnn", **{"model.neck": False})).embedding_size == 64
    assert build_model(make_cfg("resnet18", **{"model.embedding_size": 32})).embedding_size == 32


def test_plainnet_has_no_skip_and_zero_init_zeroes_last_bn():
    plain = build_model(make_cfg("plainnet18"))
    res = build_model(make_cfg("resnet18", **{"model.zero_init_residual": True}))
    assert all(b.shortcut is None for b in plain.features[1:].modules() if hasattr(b, "shortcut"))
    blocks = [b for b in res.modules() if hasattr(b, "branch")]
    assert blocks and all((b.branch[-1].weight == 0).all() for b in blocks)
    # with every branch zeroed a residual block is relu(shortcut(x)): identity blocks pass x through
    block = res.features[1][1].eval()
    x = torch.rand(1, block.branch[0].in_channels, 8, 8)
    torch.testing.assert_close(block(x), x)


@pytest.mark.parametrize(
    "extra, backbone, task",
    [
        ({"model.depth": 3}, "resnet18", "face"),
        ({"model.embedding_size": 48, "model.neck": False}, "resnet18", "face"),
        ({"model.dropout": 0.2, "model.neck": False}, "resnet18", "face"),
        ({"model.zero_init_residual": True}, "plainnet18", "face"),
        ({"model.stem": "imagenet"}, "vae", "autoencoder"),
        ({"model.noise": "masking"}, "ae", "autoencoder"),
        ({"model.noise_level": 0.2}, "dae", "face"),
        ({"data.image_size": 16}, "cnn", "face"),
    ],
)
def test_unused_or_impossible_keys_are_rejected(extra, backbone, task):
    values = {"task": task}
    if task == "face":
        values["loss.name"] = "arcface"
    with pytest.raises(ConfigError, match=r"model\.|data\.image_size"):
        build_model(make_cfg(backbone, **values, **extra))


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_ae_backbone_in_face_task_is_its_encoder(name):
    cfg = make_cfg(name, 64, task="face", **{"loss.name": "arcface", "model.embedding_size": 16})
    model = build_model(cfg)
    out = model(torch.zeros(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 16) and model.embedding_size == 16


@pytest.mark.parametrize("size", [56, 96, 100])
def test_autoencoder_odd_sizes(size):
    model = build_model(make_cfg("vae", size, **{"model.depth": 5, "model.width": 0.5}))
    assert model(torch.zeros(1, 3, size, size))["recon"].shape == (1, 3, size, size)


def test_vae_samples_in_train_mode_and_uses_mu_at_eval():
    torch.manual_seed(0)
    model = build_model(make_cfg("vae"))
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    model.train()
    a, b = model(x), model(x)
    assert not torch.equal(a["recon"], b["recon"])  # z = mu + sigma * eps differs per call
    torch.testing.assert_close(a["embedding"], a["mu"])
    model.eval()
    c, d = model(x), model(x)
    torch.testing.assert_close(c["recon"], d["recon"])
    torch.testing.assert_close(c["recon"], model.decoder(c["mu"]))


def test_dae_corrupts_only_in_train_mode():
    torch.manual_seed(0)
    dae = build_model(make_cfg("dae", **{"model.noise_level": 0.5}))
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    dae.eval()
    torch.testing.assert_close(dae(x)["embedding"], dae(x)["embedding"])
    dae.train()
    assert not torch.equal(dae(x)["embedding"], dae(x)["embedding"])


def test_corruptions():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert (corrupt(x, kind="masking", level=1.0) == -1).all()
    torch.testing.assert_close(corrupt(x, kind="masking", level=0.0), x)
    sp = corrupt(x, kind="salt_pepper", level=1.0)
    assert set(sp.unique().tolist()) == {-1.0, 1.0}
    g = corrupt(x, kind="gaussian", level=0.1)
    assert g.abs().max() <= 1.0 and 0.05 < (g - x).std() < 0.15
    frac = (corrupt(x, kind="masking", level=0.3) != x).float().mean()
    assert 0.2 < frac < 0.4


def test_a_backbone_builds_from_plain_keyword_arguments_without_a_config():
    """timm's create_model(name, **kwargs): the CIFAR-10 loss study's CNN without its head (122,570 - 64*10 - 10
    parameters), and the same weights as the config path builds from the same seed."""
    torch.manual_seed(0)
    net = create_model("cnn", input_size=(3, 32, 32), width=1.0, neck=False, embedding_size=None, dropout=0.0)
    assert sum(p.numel() for p in net.parameters()) == 122_570 - 64 * 10 - 10
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 64)
    torch.manual_seed(0)
    via_cfg = build_model(
        TrialConfig.from_dict(
            {"task": "cifar", "loss.name": "ce", "model.backbone": "cnn", "model.neck": False, "data.image_size": 32}
        )
    )
    for (k, a), (k2, b) in zip(net.state_dict().items(), via_cfg.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    with pytest.raises(TypeError):  # the builder has no defaults of its own to drift from its declaration...
        BACKBONES.get("cnn").load()(input_size=(3, 32, 32), width=1.0)
    # ...create_model fills a key left out with its declared default (model.neck's is True: a 128-d neck)
    assert BACKBONES.get("cnn").params["neck"].default is True
    assert (
        create_model("cnn", input_size=(3, 32, 32), width=1.0).embedding_size
        == create_model("cnn", input_size=(3, 32, 32), width=1.0, neck=True).embedding_size
    )


def test_an_autoencoder_builds_with_or_without_its_decoder_from_keyword_arguments():
    kwargs = {"input_size": (1, 28, 28), "width": 0.25, "depth": 2, "embedding_size": 6}
    encoder = create_model("vae", decoder=False, **kwargs)
    assert not encoder.is_autoencoder and encoder(torch.zeros(2, 1, 28, 28)).shape == (2, 6)
    dae = create_model("dae", decoder=True, noise="masking", noise_level=1.0, **kwargs).train()
    out = dae(torch.zeros(2, 1, 28, 28))
    assert out["recon"].shape == (2, 1, 28, 28) and dae.noise == "masking"


def test_trial_complexity_counts_the_trial_backbone():
    """engine.build.complexity unpacks the config and counts what models.complexity counts from keyword
    arguments: the study's CNN with a 10-class head at 32 px, 122,570 parameters."""
    cfg = TrialConfig.from_dict(
        {"task": "cifar", "loss.name": "ce", "model.backbone": "cnn", "model.neck": False, "data.image_size": 32}
    )
    assert complexity(cfg, num_classes=10) == model_complexity(
        "cnn", input_size=(3, 32, 32), num_classes=10, width=1.0, neck=False, embedding_size=None, dropout=0.0
    )
    assert complexity(cfg, num_classes=10)["params"] == 122_570


def test_the_stages_build_without_importing_the_config():
    """Models, losses and optimizers take plain keyword arguments: building one imports no facebench.config."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from facebench.models import create_model\n"
        "from facebench.losses import create_loss\n"
        "from facebench.optim.build import create_optimizer, create_scheduler\n"
        "net = create_model('resnet18', input_size=(3, 16, 16), width=0.125, stem='cifar', "
        "neck=True, embedding_size=8, dropout=0.0)\n"
        "head = create_loss('arcface', embedding_size=8, num_classes=3, scale=64.0, margin=0.5)\n"
        "opt = create_optimizer('sgd', [net, head], lr=0.1, weight_decay=5e-4, no_decay_norm_bias=True, "
        "momentum=0.9, nesterov=False)\n"
        "create_scheduler('step', opt, lr=0.1, steps_per_epoch=2, epochs=3, step_size=1, gamma=0.1)\n"
        "assert 'facebench.config' not in sys.modules, 'config imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
