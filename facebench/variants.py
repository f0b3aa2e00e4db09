"""Config sections with their variants' keys: merging the declarations, checking a config against them.

A section (``loss``) has its own keys, one of which chooses a variant (``loss.name`` -> the ``loss``
registry). ``with_variants`` adds every key its variants declare (``loss.margin``, ``loss.h``, ...): one
type per key (variants that disagree are a programming error, raised at import), one default (the
variants' common default, else None = "the chosen variant's"). ``check`` then applies each declaration
to a config: the chosen variant's ``requires``, the range of each key it reads, and "a key it does
not read keeps its default". ``chosen_params`` hands a builder exactly the keys its variant declares.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable
from typing import Any, Optional

from .errors import ConfigError
from .params import Param
from .registry import REGISTRIES, Registry, Variant


def with_variants(cls: type) -> type:
    """``cls`` (a frozen dataclass of a section's own keys) plus the keys declared by its variants."""
    fields = [
        (f.name, typing.get_type_hints(cls)[f.name], dataclasses.field(default=f.default, metadata=f.metadata))
        for f in dataclasses.fields(cls)
    ]
    for reg in selectors(cls):
        for name, users in _declared_keys(reg).items():
            if name in {f[0] for f in fields}:
                raise TypeError(f"{cls.__name__}.{name}: declared by the section and by {reg.kind} variants")
            fields.append(_merged_field(cls, reg, name, users))
    # __module__ and the class name as before, so pickles of a config find the merged class
    return dataclasses.make_dataclass(
        cls.__name__, fields, frozen=True, namespace={"__module__": cls.__module__, "__doc__": cls.__doc__}
    )


def selectors(cls: type) -> list[Registry]:
    """The registries whose names the section's own keys hold (``loss.name`` -> the loss registry)."""
    return [REGISTRIES[f.metadata["registry"]] for f in dataclasses.fields(cls) if f.metadata.get("registry")]


def _declared_keys(reg: Registry) -> dict[str, dict[str, Param]]:
    out: dict[str, dict[str, Param]] = {}
    for variant in reg.variants():
        for name, param in variant.params.items():
            out.setdefault(name, {})[variant.name] = param
    return out


def _merged_field(cls: type, reg: Registry, name: str, users: dict[str, Param]) -> tuple:
    params = list(users.values())
    kinds = {_strip_optional(p.kind) for p in params}
    if len(kinds) != 1:
        raise TypeError(f"{cls.__name__}.{name}: {reg.kind} variants declare different types {kinds}")
    defaults = {repr(p.default) for p in params}
    default = params[0].default if len(defaults) == 1 else None
    kind = params[0].kind if default is not None else Optional[kinds.pop()]
    return name, kind, dataclasses.field(default=default, metadata={"users": users, "selector": reg})


def _strip_optional(t: Any) -> Any:
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if typing.get_origin(t) is typing.Union and len(args) == 1 else t


def _unmet(get: Callable[[str], Any], requires: typing.Mapping[str, tuple]) -> tuple[str, tuple, Any] | None:
    for key, allowed in requires.items():
        actual = get(key)
        if actual not in allowed:
            return key, allowed, actual
    return None


def _alternatives(values: typing.Iterable[Any]) -> str:
    return " or ".join(repr(v) for v in values)


def check_choice(get: Callable[[str], Any], reg: Registry) -> Variant:
    """The variant ``get(reg.key)`` names, its ``requires`` met (an unknown name lists the names)."""
    variant = reg.get(get(reg.key))
    unmet = _unmet(get, variant.requires)
    if unmet:
        key, allowed, actual = unmet
        raise ConfigError(f"{reg.key}: {variant.name!r} needs {key} {_alternatives(allowed)}, got {actual!r}")
    return variant


def check_keys(get: Callable[[str], Any], section: str, cls: type) -> None:
    """Each variant key of ``section``: in range for the chosen variant, or at its default if unread."""
    for f in dataclasses.fields(cls):
        users = f.metadata.get("users")
        if users is None:
            continue
        reg: Registry = f.metadata["selector"]
        key, chosen, value = f"{section}.{f.name}", get(reg.key), get(f"{section}.{f.name}")
        param = users.get(chosen)
        unmet = _unmet(get, param.requires) if param is not None else None
        if param is not None and unmet is None:
            param.check_range(key, value)
        elif value != f.default and param is None:
            raise ConfigError(f"{key} is only used by {reg.key} {' or '.join(users)}, not {chosen!r}; remove it")
        elif value != f.default:
            need, allowed, actual = unmet
            raise ConfigError(
                f"{key}: {reg.key} {chosen!r} reads it only with {need} {_alternatives(allowed)}, "
                f"not {actual!r}; remove it"
            )


def chosen_params(get: Callable[[str], Any], section: str, reg: Registry) -> dict[str, Any]:
    """The keys the chosen variant declares (and reads in this setting), unset ones at its declared default."""
    out = {}
    for name, param in reg.get(get(reg.key)).params.items():
        if _unmet(get, param.requires) is None:
            value = get(f"{section}.{name}")
            out[name] = param.default if value is None else value
    return out


def describe(section: str, f: dataclasses.Field, typ: Any) -> tuple[str, str, str, str]:
    """(key, type, default, doc) of one section key, for ``facebench list --keys`` and the docs."""
    tname = str(typ).replace("typing.", "") if typing.get_origin(typ) else typ.__name__
    users = f.metadata.get("users")
    if users is None:
        return f"{section}.{f.name}", tname, repr(f.default), f.metadata["param"].describe()
    reg = f.metadata["selector"]
    if f.default is None and any(p.default is not None for p in users.values()):
        who = ", ".join(f"{n} {p.default!r}" for n, p in users.items())  # each variant's own default
    else:
        who = "|".join(users)
    return f"{section}.{f.name}", tname, repr(f.default), f"{_shared_doc(list(users.values()))} [{reg.key}: {who}]"


def _shared_doc(params: list[Param]) -> str:
    """What the declarations' docs share ("margin m (radians)" and "margin m (on the cosine)": "margin m")."""
    docs = {p.describe() for p in params}
    if len(docs) == 1:
        return docs.pop()
    common = os.path.commonprefix(sorted(docs))
    common = common[: common.rfind(" ") + 1].rstrip(" (,;:")  # whole words only
    return common or params[0].describe()
