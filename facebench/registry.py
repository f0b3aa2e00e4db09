"""One small registry for every family of variants (datasets, backbones, losses, optimizers, ...).

Modelled on timm's ``register_model`` / ``create_model`` / ``list_models``: variants are looked up
by name, an unknown name is an error that lists the names that exist, and ``facebench list`` prints
every registry.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterator

from .errors import ConfigError

# Modules whose import fills the registries; ``load_all`` imports them for ``facebench list``
# and for config validation. Importing them may import torch, so it is done lazily.
_PROVIDERS = (
    "facebench.data.build",  # not the package: facebench.data loads its names lazily
    "facebench.models",
    "facebench.losses",
    "facebench.engine.optim",
    "facebench.engine.augment",
)

REGISTRIES: dict[str, "Registry"] = {}


class Registry:
    """A name -> object map with a help line per entry."""

    def __init__(self, kind: str) -> None:
        if kind in REGISTRIES:
            raise ValueError(f"registry {kind!r} already exists")
        self.kind = kind
        self._entries: dict[str, tuple[Any, str]] = {}
        REGISTRIES[kind] = self

    def register(self, name: str, *, help: str | None = None) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            self.add(name, obj, help=help)
            return obj

        return decorator

    def add(self, name: str, obj: Any, *, help: str | None = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        doc = help if help is not None else (getattr(obj, "__doc__", None) or "").strip().split("\n")[0]
        self._entries[name] = (obj, doc)

    def get(self, name: str, *, key: str | None = None) -> Any:
        if name not in self._entries:
            where = f"{key}: " if key else ""
            raise ConfigError(f"{where}unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        return self._entries[name][0]

    def help(self, name: str) -> str:
        return self._entries[name][1]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def load_all() -> dict[str, Registry]:
    """Import every provider module so all registries are filled; return them by kind."""
    for module in _PROVIDERS:
        importlib.import_module(module)
    return dict(REGISTRIES)


def get_registry(kind: str) -> Registry:
    if kind not in REGISTRIES:
        load_all()
    return REGISTRIES[kind]
