"""Parameters, FLOPs and MACs of any registered backbone at a given input size.

Counted by ``torch.utils.flop_counter.FlopCounterMode`` on one image in eval mode. torch counts a
multiply-add as 2 FLOPs for matmul and convolution, so MACs = FLOPs / 2; element-wise ops (BN, ReLU,
pooling) are not counted, as in most published tables. Classifiers include a linear ``num_classes`` head
(the ``ce`` head) in both counts; autoencoders count encoder + decoder and have no head.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import FacebenchError
from . import AUTOENCODER_BACKBONES, BACKBONES, create_model


def model_complexity(name: str, *, input_size: tuple[int, int, int], num_classes: int, **kwargs: Any) -> dict[str, int]:
    """dict(params, flops, macs) of backbone ``name`` (built by ``create_model(name, input_size=input_size,
    **kwargs)``) on one (C, H, W) ``input_size`` image (FLOPs = 2 * MACs)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # On the meta device: shapes only, so counting a 65 M-parameter net allocates and initialises nothing.
    with torch.device("meta"):
        model = create_model(name, input_size=input_size, **kwargs).eval()
        head = None if getattr(model, "is_autoencoder", False) else nn.Linear(model.embedding_size, num_classes)
        x = torch.zeros(1, *input_size)
        with torch.no_grad(), counter:
            out = model(x)
            if head is not None:
                head(out)
    params = sum(p.numel() for p in model.parameters())
    params += sum(p.numel() for p in head.parameters()) if head is not None else 0
    flops = int(counter.get_total_flops())
    return {"params": int(params), "flops": flops, "macs": flops // 2}


def default_complexity(name: str, image_size: int, num_classes: int, **overrides: Any) -> dict[str, int]:
    """``model_complexity`` of backbone ``name`` at its declared defaults (and ``overrides``) on an RGB image;
    an autoencoder with its decoder, as its own task trains it."""
    kwargs = {key: param.default for key, param in BACKBONES.get(name).params.items()}
    kwargs.update(overrides)
    if name in AUTOENCODER_BACKBONES:
        kwargs["decoder"] = True
    return model_complexity(name, input_size=(3, image_size, image_size), num_classes=num_classes, **kwargs)


def print_complexity_table(image_size: int, num_classes: int, *, neck: bool = False) -> None:
    """One row per registered backbone: parameters, GFLOPs and GMACs at the default width and stem."""
    print(
        f"complexity at {image_size}x{image_size}, {num_classes}-class linear head, model.neck={neck} "
        "(resnet/plainnet: cifar stem, width 1; AE/VAE: encoder+decoder, latent 128); FLOPs = 2 x MACs"
    )
    print(f"  {'backbone':<12} {'params':>14} {'GFLOPs':>10} {'GMACs':>10}")
    for name in BACKBONES.names():
        extra = {"neck": neck} if "neck" in BACKBONES.get(name).params else {}  # IResNet: always its block
        try:
            c = default_complexity(name, image_size, num_classes, **extra)
        except FacebenchError as e:  # a size a backbone cannot take is a row, not a crash of `facebench list`
            print(f"  {name:<12} {'-':>14} {'-':>10} {'-':>10}  ({e})")
            continue
        print(f"  {name:<12} {c['params']:>14,} {c['flops'] / 1e9:>10.3f} {c['macs'] / 1e9:>10.3f}")
