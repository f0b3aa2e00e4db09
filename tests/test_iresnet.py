"""IResNet against InsightFace's reference definition (known answers) and its conventions."""

from __future__ import annotations

import hashlib

import pytest
import torch

from facebench.config import TrialConfig
from facebench.engine.build import build_model
from facebench.errors import ConfigError

# Known answers, measured by instantiating InsightFace's own definition: deepinsight/insightface
# recognition/arcface_torch/backbones/iresnet.py at commit 04a433f154de30ff8604d78f73f2b6af5822f71c,
# ``iresnet{18,34,50,100}()`` with its defaults (num_features=512, dropout=0, 112x112 input): parameters, of them
# trainable (the embedding BN's scale is frozen), state-dict entries, and sha256 of its "key:shape" lines (first 16
# hex digits), which pins every module name and shape, so their checkpoints load here. The 43.6 M and 65.2 M of
# IResNet-50/100 are also the counts InsightFace's model zoo states.
REFERENCE = {
    "iresnet18": (24_025_600, 24_025_088, 187, "15a4c3eeae37ffb0"),
    "iresnet34": (34_139_328, 34_138_816, 331, "caae33a3206422ae"),
    "iresnet50": (43_590_848, 43_590_336, 475, "1581a879cd82c983"),
    "iresnet100": (65_156_160, 65_155_648, 925, "3b80acb57b24b3dd"),
}


def _cfg(name: str, size: int = 112, **extra) -> TrialConfig:
    return TrialConfig.from_dict({"model.backbone": name, "data.image_size": size, **extra})


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameter_counts_and_state_dict_match_insightface(name):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost for 65 M parameters
        model = build_model(_cfg(name))
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    sd = model.state_dict()
    digest = hashlib.sha256("".join(f"{k}:{tuple(v.shape)}\n" for k, v in sd.items()).encode()).hexdigest()[:16]
    assert (params, trainable, len(sd), digest) == REFERENCE[name]


def test_block_order_is_bn_conv_bn_prelu_conv_bn():
    model = build_model(_cfg("iresnet18", 32, **{"model.width": 0.125}))
    block = model.layer1[0]
    assert [n for n, _ in block.named_children()][:6] == ["bn1", "conv1", "bn2", "prelu", "conv2", "bn3"]
    assert model.fc.bias is not None and not model.features.weight.requires_grad
    # 32 px through four stride-2 stages: 16, 8, 4, 2 -> the FC sees 64 channels x 2 x 2.
    assert model.fc.in_features == 64 * 2 * 2


def test_zero_init_residual_makes_blocks_identity():
    model = build_model(_cfg("iresnet18", 32, **{"model.width": 0.125, "model.zero_init_residual": True})).eval()
    block = model.layer1[1]  # no downsample: output equals input
    x = torch.randn(2, block.bn1.num_features, 8, 8)
    torch.testing.assert_close(block(x), x)


def test_neck_off_is_refused():
    with pytest.raises(ConfigError, match="model.neck"):
        build_model(_cfg("iresnet18", 32, **{"model.neck": False}))
