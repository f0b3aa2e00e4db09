"""``best.toml``: the best trial's configuration as a TOML recipe that ``facebench train --config`` reads back.

The #1 is the sweep's own by its objective (a completed trial of the sweep stage, never a confirmation re-run,
never chosen on test). The file holds no path of the machine that ran it: ``data.root`` is left out (the user gives
it: ``--set data.root=DIR``), and so is any other key whose value is an absolute local path (paths.machine_keys).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from facebench.errors import ConfigError

from .paths import last_component, machine_keys
from .stats import is_confirmation

BEST_CONFIG = "best.toml"
# Never written: the run's name, and the data root, which is the user's machine's to give at run time.
LEFT_OUT = ("name", "data.root")


def best_row(ranked: pd.DataFrame) -> pd.Series | None:
    """The sweep's #1 by its own objective: a completed trial of the sweep stage (never a confirmation re-run)."""
    if ranked.empty:
        return None
    done = ranked[(ranked["status"] == "completed") & ~is_confirmation(ranked)]
    return None if done.empty else done.iloc[0]


def config_toml(config: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """A flat ``{"section.key": value}`` config as TOML tables that ``facebench train --config`` reads back.

    Keys whose value is None (the variant's own default) are left out; TOML has no null."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key in sorted(config):
        value = config[key]
        if value is None:
            continue
        if "." in key:
            section, name = key.split(".", 1)
            sections.setdefault(section, {})[name] = value
        else:
            top[key] = value
    lines = [f"# {h}" for h in header]
    lines += [f"{k} = {_toml_value(k, v)}" for k, v in top.items()]
    for section, values in sections.items():
        lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(f'{section}.{k}', v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _toml_value(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"{key}: {v} is not a finite number; a config cannot hold it")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(key, x) for x in v) + "]"
    raise ConfigError(f"{key}: a {type(v).__name__} value cannot be written to a TOML config")


def best_config(b: pd.Series, config: Mapping[str, Any]) -> str:
    """``best.toml``: the #1 trial's (``best_row``) configuration without machine paths, with a header saying what
    it scored and how to run it."""
    test = f"{b['score_metric']} {b['score']:.4f}" if pd.notna(b.get("score")) else "no test score"
    dropped = [k for k in machine_keys(dict(config)) if k not in LEFT_OUT]
    header = [
        (
            f"The best trial of sweep {b['sweep']} by its objective ({b.get('objective_metric')}, "
            f"{b.get('objective_select')} epoch): trial {b['trial_id']}, objective {b['objective']:.4f}; {test}."
        ),
        ("Its configuration, as the sweep ran it, without the paths of the machine that ran it. Reproduce it with:"),
        "  " + run_command(config),
    ]
    if config.get("data.root"):
        header.append(
            f"data.root is left out: pass --set data.root=DIR, DIR being your copy of the "
            f"'{last_component(str(config['data.root']))}' dataset."
        )
    if dropped:
        header.append(
            f"also left out, as paths of the machine that ran it: {', '.join(dropped)}; "
            "set them the same way if the trial needs them."
        )
    kept = {k: v for k, v in config.items() if k not in LEFT_OUT and k not in dropped}
    return config_toml(kept, header)


def run_command(config: Mapping[str, Any]) -> str:
    """The command that re-runs ``best.toml``, with a ``--set`` for each path it leaves out."""
    keys = (["data.root"] if config.get("data.root") else []) + [
        k for k in machine_keys(dict(config)) if k not in LEFT_OUT
    ]
    flags = "".join(f" --set {k}={'DIR' if k == 'data.root' else k.split('.')[-1].upper()}" for k in keys)
    return f"facebench train --config {BEST_CONFIG} --out runs/best{flags}"
