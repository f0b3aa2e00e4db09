"""Proper names for the variants the page shows (``arcface`` -> ArcFace, ``resnet50`` -> ResNet-50).

``display_name`` is the report's one call site for them: the page's tables, figure labels and recipe labels all go
through it, and the Parquet tables keep the registry names. The names belong beside the variants' declarations
(facebench/registry.py); until the registries carry them, this table stands in.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# config key -> registry kind; the keys whose values are variant names
KEYS = {"cfg.model.backbone": "backbone", "cfg.loss.name": "loss", "cfg.schedule.name": "scheduler",
        "cfg.optim.name": "optimizer"}
_NAMES = {"ce": "CE", "normsoftmax": "NormSoftmax", "sphereface": "SphereFace", "cosface": "CosFace",
          "arcface": "ArcFace", "curricularface": "CurricularFace", "adaface": "AdaFace", "vae": "VAE", "ae": "AE",
          "dae": "denoising AE", "cnn": "CNN", "onecycle": "OneCycle", "adamw": "AdamW", "sgd": "SGD", "adam": "Adam"}


def display_name(kind: str, name: Any) -> Any:
    """A variant's proper name; a name it does not know (or a missing value) comes back as it is."""
    if not isinstance(name, str):
        return name
    if name in _NAMES:
        return _NAMES[name]
    for prefix, shown in (("resnet", "ResNet-"), ("iresnet", "IResNet-"), ("plainnet", "PlainNet-")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return shown + name[len(prefix):]
    return name


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a trials frame with its variant columns in proper names."""
    cols = [c for c in KEYS if c in df.columns]
    if not cols:
        return df
    return df.assign(**{c: df[c].map(lambda v, k=KEYS[c]: display_name(k, v)) for c in cols})
