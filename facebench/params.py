"""``Param``: one config knob declared once -- type, default, range or choices, meaning, sweep range.

The trial config's own keys (``optim.lr``) and every variant's hyperparameters (ArcFace's
``loss.margin``) are ``Param``s. Checking a value against its declaration happens here, so a bad value
gets the same one-line error, naming the key and what is allowed, wherever it was declared.
This module imports nothing of facebench beyond the errors: config validation stays light.
"""

from __future__ import annotations

import math
import numbers
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Param:
    """A knob: ``default`` (its type is the knob's type unless ``type`` says otherwise), a one-line ``doc``.

    ``lo``/``hi`` bound numbers (``*_open``: the bound itself is excluded); ``choices`` lists the allowed
    strings; ``search`` = (low, high, log) is the range the sweep spaces draw from by default, in multiples
    of the sweep's training epochs where ``per_epoch``;
    ``requires`` = {config key: allowed values} for a knob a variant reads only in some settings.
    """

    default: Any
    doc: str
    type: Any = None
    choices: tuple | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    search: tuple[float, float, bool] | None = None
    per_epoch: bool = False
    requires: Mapping[str, tuple] = field(default_factory=dict)

    @property
    def kind(self) -> Any:
        """The value type; ``Optional[T]`` where the default is None."""
        if self.type is not None:
            return self.type
        if self.default is None:
            raise TypeError(f"Param {self.doc!r}: a None default needs type=Optional[...]")
        return type(self.default)

    def check(self, key: str, value: Any) -> Any:
        """``value`` coerced to this knob's type and checked against its choices and range."""
        return self.check_range(key, coerce(key, self.kind, value))

    def check_range(self, key: str, value: Any) -> Any:
        if value is None:
            return value
        if self.choices and value not in self.choices:
            raise ConfigError(f"{key}: {value!r} is not allowed; choose one of: {', '.join(self.choices)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: must be finite, got {value!r}; allowed {self.range_text()}")
        lo, hi = self.lo, self.hi
        below = lo is not None and (value < lo or (self.lo_open and value == lo))
        above = hi is not None and (value > hi or (self.hi_open and value == hi))
        if below or above:
            raise ConfigError(f"{key}: {value!r} is out of range; allowed {self.range_text()}")
        return value

    def range_text(self) -> str:
        """``[1, 10000]``, ``(0.0, 10.0]``: the allowed interval as the errors and ``facebench list --keys`` say it."""
        lo = "-inf" if self.lo is None else _number(self.lo)
        hi = "inf" if self.hi is None else _number(self.hi)
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{')' if self.hi_open or self.hi is None else ']'}"

    def describe(self) -> str:
        """The doc line with choices or range, as ``facebench list --keys`` prints it."""
        if self.choices:
            return f"{self.doc} ({'|'.join(self.choices)})"
        if self.lo is not None or self.hi is not None:
            return f"{self.doc} {self.range_text()}"
        return self.doc


def _number(x: float) -> str:
    """A bound as written in a declaration: 10000, 0.5, 2^63-1 (not 9223372036854775807)."""
    if x == SEED_MAX:
        return "2^63-1"
    return f"{x:,}".replace(",", "_") if isinstance(x, int) and x >= 100_000 else repr(x)


# torch.manual_seed takes seeds below 2^63 as signed int64; NumPy's generators take any non-negative int.
SEED_MAX = 2**63 - 1


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce(key: str, typ: Any, value: Any) -> Any:
    """Convert ``value`` (a string from --set, a number from Optuna, numpy scalars) to ``typ`` or raise."""
    is_optional = typing.get_origin(typ) is typing.Union and type(None) in typing.get_args(typ)
    if is_optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
            return None
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    bad = ConfigError(f"{key}: expected {typ.__name__}{' or none' if is_optional else ''}, got {value!r}")
    convert = _CONVERTERS.get(typ)
    if convert is None:
        raise TypeError(f"unsupported config type {typ}")
    return convert(key, value, bad)


def _to_bool(key: str, value: Any, bad: ConfigError) -> bool:
    if isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise bad


def _to_int(key: str, value: Any, bad: ConfigError) -> int:
    if isinstance(value, bool):
        raise bad
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise bad from None
    raise bad


def _to_float(key: str, value: Any, bad: ConfigError) -> float:
    if isinstance(value, bool):
        raise bad
    if isinstance(value, numbers.Real):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise bad from None
    else:
        raise bad
    return out  # a non-finite value is refused by the key's range (Param.check_range), which it then names


def _to_str(key: str, value: Any, bad: ConfigError) -> str:
    if not isinstance(value, str):
        raise bad
    return value


_CONVERTERS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}
