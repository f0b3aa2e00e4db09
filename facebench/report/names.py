"""Proper names for the variants the page shows (``arcface`` -> ArcFace, ``resnet50`` -> ResNet-50).

``display_name`` is the report's one call site for them: the page's tables, figure labels and recipe labels all go
through it, and the Parquet tables keep the registry names. The names are declared once, beside the variants
(``display=`` in each stage's registry; ``facebench.registry.display_name``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import registry

# trials-table column -> the config key whose values are variant names
KEYS = {
    "cfg.model.backbone": "backbone",
    "cfg.loss.name": "loss",
    "cfg.schedule.name": "scheduler",
    "cfg.optim.name": "optimizer",
}
_CONFIG_KEY = {
    "backbone": "model.backbone",
    "loss": "loss.name",
    "scheduler": "schedule.name",
    "optimizer": "optim.name",
}


def display_name(kind: str, name: Any) -> Any:
    """A variant's declared proper name; a name no registry knows (or a missing value) comes back as it is."""
    if not isinstance(name, str) or kind not in _CONFIG_KEY:
        return name
    return registry.display_name(_CONFIG_KEY[kind], name) or name


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a trials frame with its variant columns in proper names."""
    cols = [c for c in KEYS if c in df.columns]
    if not cols:
        return df
    return df.assign(**{c: df[c].map(lambda v, k=KEYS[c]: display_name(k, v)) for c in cols})
