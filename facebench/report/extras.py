"""What makes a sweep's report publishable beyond its figures: the best trial's configuration as a TOML recipe
(``best.toml``), the compute budget the sweep used, reference scores (floors) and two answers the VAE
face-verification study asks (which term the loss is made of across beta; each family against the floors).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from facebench.errors import ConfigError

from .plots import Plot, figure, png, vae_only
from .stats import is_confirmation

BEST_CONFIG = "best.toml"


# -- best.toml -----------------------------------------------------------------------------------

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
    """``best.toml``: the #1 trial's (``best_row``) complete configuration with a header saying what it scored and
    how to run it."""
    test = f"{b['score_metric']} {b['score']:.4f}" if pd.notna(b.get("score")) else "no test score"
    header = [f"The best trial of sweep {b['sweep']} by its objective ({b.get('objective_metric')}, "
              f"{b.get('objective_select')} epoch): trial {b['trial_id']}, objective {b['objective']:.4f}; {test}.",
              "Its complete configuration, as the sweep ran it. Reproduce it with:",
              "  facebench train --config best.toml --out runs/best      (--set data.root=PATH if the data moved)"]
    return config_toml({k: v for k, v in config.items() if k != "name"}, header)


# -- budget and references -----------------------------------------------------------------------

def budget_lines(sweeps: Sequence[Any], ranked: pd.DataFrame) -> list[str]:
    """Per sweep: its trials and wall time (summary.json), and the confirmation stage's runs and span (the
    confirmation trials' start times and wall times), so a reader sees what the result cost."""
    out = []
    for s in sweeps:
        rows = ranked[ranked["sweep"] == s.name] if "sweep" in ranked.columns else ranked.iloc[:0]
        conf_rows = is_confirmation(rows)
        own, conf = rows[~conf_rows], rows[conf_rows]
        text = f"sweep {s.name}: {len(own)} trials"
        if s.wall_s:
            text += f" in {s.wall_s / 60:.1f} min of wall time"
        span = _span_s(conf)
        if len(conf):
            text += f"; confirmation: {len(conf)} runs" + (f" in {span / 60:.1f} min" if span else "")
        devices = sorted({str(d) for d in rows.get("device", pd.Series(dtype=str)).dropna()})
        if devices:
            text += f"; trial devices: {', '.join(devices)}"
        out.append(text)
    return out


def target_lines(target: float | None, sweeps: Sequence[Any], ranked: pd.DataFrame) -> list[str]:
    """``--target``: the test score a recipe should reach, against the #1 by validation and, where the confirmation
    stage ran, its winner's mean over new seeds; a miss says by how much."""
    if target is None:
        return []
    b = best_row(ranked)
    if b is None or pd.isna(b.get("score")):
        return [f"target {target:.4f}: no completed trial to judge"]
    out = [f"target {b['score_metric']} >= {target:.4f}: the #1 by validation ({b['trial_id']}) tests "
           f"{b['score']:.4f}, " + _verdict(float(b["score"]), target)]
    for s in sweeps:
        win = next((c for c in s.confirmation if c.get("best")), None)
        mean = win.get("test_accuracy_mean") if win else None
        if isinstance(mean, (int, float)) and math.isfinite(mean):
            out.append(f"target >= {target:.4f}: the confirmed winner of {s.name} ({win['recipe']}) averages "
                       f"{mean:.4f} over {len(win.get('seeds', []))} new seeds, " + _verdict(float(mean), target))
    return out


def _verdict(value: float, target: float) -> str:
    return f"met (+{value - target:.4f})" if value >= target else f"missed by {target - value:.4f}"


def _span_s(rows: pd.DataFrame) -> float | None:
    if rows.empty or "started_at" not in rows.columns:
        return None
    try:
        start = [datetime.fromisoformat(str(t)).timestamp() for t in rows["started_at"]]
    except ValueError:
        return None
    ends = [a + float(w) for a, w in zip(start, rows["wall_s"]) if pd.notna(w)]
    return max(ends) - min(start) if ends else None


def parse_references(values: Sequence[str] | None) -> list[tuple[str, float]]:
    """``--reference "LABEL=VALUE"``: a score the trials are read against, such as a floor measured elsewhere."""
    out = []
    for text in values or []:
        label, sep, number = text.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not sep or not label.strip() or not math.isfinite(value):
            raise ConfigError(f"--reference {text!r}: expected LABEL=VALUE with a finite number, "
                              "e.g. --reference 'whitened PCA floor=0.629'")
        out.append((label.strip(), value))
    return out


def plot_families(ranked: pd.DataFrame, references: Sequence[tuple[str, float]]) -> list[Plot]:
    """Each backbone's trials (test score) against the reference scores: 'does it beat the floor?'."""
    done = ranked[(ranked["status"] == "completed") & ranked["score"].notna() & ~is_confirmation(ranked)]
    if done.empty or "cfg.model.backbone" not in done.columns or not references:
        return []
    groups = [(name, g["score"].to_numpy(float)) for name, g in done.groupby("cfg.model.backbone")]
    groups.sort(key=lambda x: np.max(x[1]))
    height = 0.4 * len(groups) + 1.8
    fig, ax = figure(6.4, height, left=0.22, bottom=0.75 / height)
    ax = ax[0, 0]
    for i, (_, scores) in enumerate(groups):
        ax.scatter(scores, np.full(len(scores), i), s=14, alpha=0.6, color="tab:blue")
        ax.scatter([np.max(scores)], [i], marker="|", s=200, color="tab:blue")
    for j, (label, value) in enumerate(references):
        ax.axvline(value, ls="--", lw=1, color=f"C{j + 1}", label=f"{label} {value:.4f}")
    ax.set_yticks(range(len(groups)), [f"{n} (n={len(s)})" for n, s in groups], fontsize=8)
    ax.set_xlabel(str(done["score_metric"].iloc[0]) + " (test, touched once per trial)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Backbones against the reference scores", fontsize=9)
    best = {n: float(np.max(s)) for n, s in groups}
    text = "; ".join(f"{n} best {v:.4f}" for n, v in sorted(best.items(), key=lambda x: -x[1]))
    shown = set(done["cfg.model.backbone"])
    unscored = sorted(set(ranked["cfg.model.backbone"].dropna()) - shown)
    gone = f" No trial of {', '.join(map(str, unscored))} completed (stopped early: no test score)." if unscored else ""
    return [Plot("factors", "Backbones against the reference scores", png(fig),
                 f"dots = the sweep's completed trials, bar = each backbone's best; dashed = references. {text}.{gone}")]


# -- the VAE loss across beta --------------------------------------------------------------------

def plot_beta_terms(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[Plot]:
    """Reconstruction, KL and the KL term's share of the loss (beta·KL / total) at each VAE trial's last epoch,
    against beta: which of the two the total is made of."""
    vae = vae_only(ranked)
    vae = vae[~is_confirmation(vae)]
    need = {"train_recon", "train_kld"}
    if vae.empty or epochs.empty or not need <= set(epochs.columns) or "cfg.loss.beta" not in vae.columns:
        return []
    last = epochs.dropna(subset=sorted(need)).groupby(["sweep", "trial_id"], sort=False).tail(1)
    size_col = ["cfg.data.image_size"] if "cfg.data.image_size" in vae.columns else []
    df = last[["sweep", "trial_id", *sorted(need)]].merge(vae[["sweep", "trial_id", "cfg.loss.beta", *size_col]],
                                                           on=["sweep", "trial_id"])
    df = df[df["cfg.loss.beta"].astype(float) > 0]
    if df.empty:
        return []
    beta = df["cfg.loss.beta"].astype(float).to_numpy()
    recon, kld = df["train_recon"].to_numpy(float), df["train_kld"].to_numpy(float)
    share = beta * kld / (recon + beta * kld)
    fig, axes = figure(9.6, 3.2, ncols=3, left=0.07)
    fig.subplots_adjust(wspace=0.45)
    sizes = df["cfg.data.image_size"].to_numpy() if size_col else np.zeros(len(df))
    for ax, y, name in zip(axes[0], (recon, kld, share), ("reconstruction (summed over pixels)", "KL (nats)",
                                                          "share of beta·KL")):
        for j, size in enumerate(sorted(set(sizes))):   # a summed reconstruction grows with the input size
            at = sizes == size
            ax.scatter(beta[at], y[at], s=16, color=f"C{j + 4}", label=f"{int(size)} px" if size_col else None)
        ax.set_xscale("log")
        ax.set_xlabel("beta")
        ax.set_title(name, fontsize=8)
    if size_col:
        axes[0, 0].legend(fontsize=7)
    caption = (f"last epoch of {len(df)} VAE trials. The KL term is {np.median(share):.1%} of the loss at the median "
               f"(range {share.min():.1%}-{share.max():.1%}): the total is mostly "
               f"{'reconstruction' if np.median(share) < 0.5 else 'KL'}.")
    return [Plot("vae", "Reconstruction and KL across beta", png(fig), caption)]
