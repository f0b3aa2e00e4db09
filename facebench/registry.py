"""Registries of variants (datasets, augmentations, backbones, losses, optimizers, schedules).

Modelled on timm's ``register_model`` / ``create_model`` / ``list_models``: a variant is looked up by
name and an unknown name is an error that lists the names that exist. Each ``Variant`` declares, once,
the hyperparameters it reads (``Param``s), the settings it needs (``requires``) and where its code is
(``target``, imported only when the variant is built). The trial config's keys, their validation,
``facebench list`` and the sweep spaces' default ranges are all derived from these declarations.

Each stage declares its registry in its package's ``__init__`` (``facebench.losses``, ...), which
imports neither torch nor the engine, so validating a config stays cheap and engine-free.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .params import Param

# The stage packages whose import fills the registries (``load_all``); none imports torch.
_PROVIDERS = ("facebench.data", "facebench.models", "facebench.losses", "facebench.optim")

REGISTRIES: dict[str, Registry] = {}


@dataclass(frozen=True)
class Variant:
    """One choice of a registry: its name, help line, code and declared hyperparameters.

    ``params``: config keys of the registry's section that this variant reads (``{"margin": Param(...)}``
    is ``loss.margin`` for a loss). ``requires``: {config key: allowed values}, e.g. ``{"task": ("cifar",)}``.
    ``options``: fixed keyword arguments for ``target`` (ResNet depth, skip connections on/off).
    ``display``: its proper name for people ("ArcFace", "ResNet-18"), shown by reports and the confirmation stage.
    """

    name: str
    help: str
    target: str  # "package.module:callable"
    params: Mapping[str, Param] = field(default_factory=dict)
    requires: Mapping[str, tuple] = field(default_factory=dict)
    kind: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    display: str = ""

    def load(self) -> Callable[..., Any]:
        """The variant's callable (its module imported now), with ``options`` bound."""
        module, _, attr = self.target.partition(":")
        fn = getattr(importlib.import_module(module), attr)
        return functools.partial(fn, **self.options) if self.options else fn


class Registry:
    """Name -> ``Variant`` for one family; ``key`` is the config key that chooses among them."""

    def __init__(self, kind: str, *, key: str) -> None:
        if kind in REGISTRIES:
            raise ValueError(f"registry {kind!r} already exists")
        self.kind, self.key = kind, key
        self._entries: dict[str, Variant] = {}
        REGISTRIES[kind] = self

    def declare(self, name: str, help: str, target: str, **fields: Any) -> Variant:
        """Register ``Variant(name, help, target, **fields)``: ``params``, ``requires``, ``kind``, ``options`` and
        ``display`` as the Variant documents them (an unknown field is a TypeError at import)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        mappings = {k: dict(fields[k] or {}) for k in ("params", "requires", "options") if k in fields}
        variant = Variant(name, help, target, **{**fields, **mappings})
        self._entries[name] = variant
        return variant

    def get(self, name: str, *, key: str | None = None) -> Variant:
        if name not in self._entries:
            raise ConfigError(
                f"{key or self.key}: unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            )
        return self._entries[name]

    def help(self, name: str) -> str:
        return self._entries[name].help

    def names(self) -> list[str]:
        return sorted(self._entries)

    def variants(self) -> list[Variant]:
        """In declaration order (the order ``facebench list --keys`` documents their keys)."""
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def display_name(key: str, name: Any) -> str | None:
    """The declared display name of the variant ``name`` of the registry chosen by config key ``key``
    (``display_name("loss.name", "arcface")`` is "ArcFace"); None when there is none."""
    for registry in load_all().values():
        if registry.key == key and isinstance(name, str) and name in registry:
            return registry.get(name).display or None
    return None


def load_all() -> dict[str, Registry]:
    """Import every stage that declares a registry; return the registries by kind."""
    for module in _PROVIDERS:
        importlib.import_module(module)
    return dict(REGISTRIES)
