"""Every numeric config key has a stated range, derived from its declaration: below it, above it, NaN
and inf are refused with one line naming the key and the range, and the default lies inside it."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from facebench.config import SECTIONS, TrialConfig
from facebench.errors import ConfigError
from facebench.params import Param

# Valid configs in which some variant is chosen; a variant key is tested in the first one that accepts it.
CONTEXTS = (
    {},
    {"task": "autoencoder", "model.backbone": "dae", "loss.name": "ae"},
    {"task": "autoencoder", "model.backbone": "vae", "loss.name": "vae"},
    {"task": "autoencoder", "model.backbone": "ae", "loss.name": "ae"},
)


def _numeric(param: Param) -> type | None:
    kind = param.kind
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    kind = args[0] if args else kind
    return kind if kind in (int, float) else None


def declared() -> list[tuple[str, str, Param, dict]]:
    """(key, who declares it, its Param, a config in which that declaration is the one read) per numeric key."""
    out = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            if "param" in f.metadata:
                users = {"(section)": (f.metadata["param"], None)}
            else:
                users = {v: (p, f.metadata["selector"].key) for v, p in f.metadata["users"].items()}
            for variant, (param, selector) in users.items():
                if _numeric(param):
                    out.append((key, variant, param, _context(selector, variant, param)))
    return out


def _context(selector: str | None, variant: str, param: Param) -> dict:
    for ctx in CONTEXTS:
        base = {**ctx, **({selector: variant} if selector else {})}
        try:
            cfg = TrialConfig.from_dict(base)
        except ConfigError:
            continue
        if all(cfg.get(k) in allowed for k, allowed in param.requires.items()):
            return base
    raise AssertionError(f"no context reads {selector}={variant}")


DECLARED = declared()
IDS = [f"{k}[{v}]" for k, v, _, _ in DECLARED]


def bad_values(param: Param) -> list:
    step = 1 if _numeric(param) is int else max(1.0, abs(param.hi) * 0.5)
    below = param.lo if param.lo_open else param.lo - step
    above = param.hi if param.hi_open else param.hi + step
    out = [below, above]
    if _numeric(param) is float:
        out += [math.nan, math.inf, -math.inf, "nan", "inf"]
    return out


def test_every_numeric_key_is_walked():
    keys = {k for k, *_ in DECLARED}
    assert {
        "train.epochs",
        "train.seed",
        "data.image_size",
        "optim.lr",
        "loss.margin",
        "schedule.step_size",
        "model.embedding_size",
        "data.synthetic_identities",
        "eval.batch_size",
    } <= keys
    assert len(DECLARED) >= 40


@pytest.mark.parametrize("key,variant,param,ctx", DECLARED, ids=IDS)
def test_numeric_key_has_a_range_and_refuses_outside_it(key, variant, param, ctx):
    assert param.lo is not None and param.hi is not None, f"{key} ({variant}) declares no range"
    default = param.default
    if default is not None:
        param.check_range(key, default)  # the default lies inside
    for value in bad_values(param):
        with pytest.raises(ConfigError) as e:
            TrialConfig.from_dict({**ctx, key: value})
        message = str(e.value)
        assert "\n" not in message and message.startswith(f"{key}:"), message
        assert param.range_text() in message, message


def test_range_text_is_what_list_keys_shows():
    from facebench.config import describe_keys

    rows = {r[0]: r[3] for r in describe_keys()}
    assert "[1, 10000]" in rows["train.epochs"] and "2^63-1" in rows["train.seed"]


@pytest.mark.parametrize(
    "flat,expected",
    [
        ({"train.epochs": 1e21}, "train.epochs: 1000000000000000000000 is out of range; allowed [1, 10000]"),
        ({"train.seed": -1}, "train.seed: -1 is out of range; allowed [0, 2^63-1]"),
        ({"train.seed": 2**63}, "allowed [0, 2^63-1]"),
        ({"data.image_size": 0}, "data.image_size: 0 is out of range; allowed [16, 512]"),
        ({"data.image_size": -32}, "data.image_size: -32 is out of range"),
        ({"data.synthetic_identities": 0}, "data.synthetic_identities: 0 is out of range"),
        ({"optim.lr": "nan"}, "optim.lr: must be finite, got nan; allowed (0.0, 1000000.0]"),
        ({"loss.margin": "inf"}, "loss.margin: must be finite, got inf; allowed [0.0,"),
    ],
)
def test_named_hostile_values(flat, expected):
    with pytest.raises(ConfigError, match=None) as e:
        TrialConfig.from_dict(flat)
    assert expected in str(e.value), str(e.value)
