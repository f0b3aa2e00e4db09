"""Parameters, FLOPs and MACs of any registered backbone at a given input size.

Counted by ``torch.utils.flop_counter.FlopCounterMode`` on one image in eval mode. torch counts a
multiply-add as 2 FLOPs for matmul and convolution, so MACs = FLOPs / 2; element-wise ops (BN, ReLU,
pooling) are not counted, as in most published tables. Classifiers include a linear ``num_classes`` head
(the ``ce`` head) in both counts; autoencoders count encoder + decoder and have no head.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..config import TrialConfig
from . import AUTOENCODER_BACKBONES
from ..errors import FacebenchError


def config_for(name: str, *, image_size: int, **overrides: Any) -> TrialConfig:
    """A default config for backbone ``name`` (task autoencoder for AE backbones, else cifar + ce)."""
    ae = name in AUTOENCODER_BACKBONES
    values: dict[str, Any] = {"task": "autoencoder" if ae else "cifar", "model.backbone": name,
                              "loss.name": ("vae" if name == "vae" else "ae") if ae else "ce",
                              "data.image_size": image_size}
    values.update(overrides)
    return TrialConfig.from_dict(values)


def model_complexity(cfg_or_name: TrialConfig | str, image_size: int, num_classes: int,
                     overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
    """dict(params, flops, macs) for one ``image_size`` x ``image_size`` image (FLOPs = 2 * MACs)."""
    from torch.utils.flop_counter import FlopCounterMode

    from . import build_model

    if isinstance(cfg_or_name, str):
        cfg = config_for(cfg_or_name, image_size=image_size, **dict(overrides or {}))
    else:
        cfg = cfg_or_name.with_overrides({"data.image_size": image_size, **dict(overrides or {})})
    counter = FlopCounterMode(display=False)
    # On the meta device: shapes only, so counting a 65 M-parameter net allocates and initialises nothing.
    with torch.device("meta"):
        model = build_model(cfg, num_classes=num_classes).eval()
        head = None if getattr(model, "is_autoencoder", False) else nn.Linear(model.embedding_size, num_classes)
        x = torch.zeros(1, cfg.in_channels, image_size, image_size)
        with torch.no_grad(), counter:
            out = model(x)
            if head is not None:
                head(out)
    params = sum(p.numel() for p in model.parameters())
    params += sum(p.numel() for p in head.parameters()) if head is not None else 0
    flops = int(counter.get_total_flops())
    return {"params": int(params), "flops": flops, "macs": flops // 2}


def print_complexity_table(image_size: int, num_classes: int, *, neck: bool = False) -> None:
    """One row per registered backbone: parameters, GFLOPs and GMACs at the default width and stem."""
    from . import BACKBONES

    print(f"complexity at {image_size}x{image_size}, {num_classes}-class linear head, model.neck={neck} "
          "(resnet/plainnet: cifar stem, width 1; AE/VAE: encoder+decoder, latent 128); FLOPs = 2 x MACs")
    print(f"  {'backbone':<12} {'params':>14} {'GFLOPs':>10} {'GMACs':>10}")
    for name in BACKBONES.names():
        extra = {"model.neck": neck} if "neck" in BACKBONES.get(name).params else {}  # IResNet: always its block
        try:
            c = model_complexity(name, image_size, num_classes, overrides=extra)
        except FacebenchError as e:  # a size a backbone cannot take is a row, not a crash of `facebench list`
            print(f"  {name:<12} {'-':>14} {'-':>10} {'-':>10}  ({e})")
            continue
        print(f"  {name:<12} {c['params']:>14,} {c['flops'] / 1e9:>10.3f} {c['macs'] / 1e9:>10.3f}")
