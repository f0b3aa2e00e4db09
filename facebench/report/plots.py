"""Report figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no global backend switch).

Each ``plot_*`` returns a list of ``Plot`` (empty when its data does not exist), draws at most a handful of
series (the top-k trials by validation rank), so a 1,000-trial sweep costs what a 10-trial one does.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DPI = 100
# An explicit title height: left to matplotlib, every draw measures the axes' tick labels to dodge them (a
# third of a small figure's drawing time); these axes have nothing above them.
TITLE_Y = 1.0
TOP_BOXES = 30  # ranked-trials figure
TOP_CURVES = 8  # training curves, VAE components
TOP_ROC = 5
TOP_DIST = 2  # distance histograms
TOP_CONF = 2  # confusion matrices


@dataclass
class Plot:
    title: str
    png: bytes
    caption: str = ""


def figure(
    w: float = 6.4, h: float = 3.6, ncols: int = 1, nrows: int = 1, *, bottom: float = 0.15, left: float = 0.12
) -> tuple[Any, Any]:
    """A figure with fixed margins: matplotlib's layout engines cost more than the drawing itself."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI)
    fig.subplots_adjust(left=left, right=0.97, top=0.9, bottom=bottom, wspace=0.35)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def short(label: Any, n: int = 28) -> str:
    text = str(label)
    return text if len(text) <= n else text[: n - 1] + "…"


def trial_label(row: Any) -> str:
    name = row["name"] if isinstance(row["name"], str) and row["name"] else row["trial_id"]
    return short(f"{row['rank']}. {name}")


# -- ranking and factors ---------------------------------------------------------------------------


def plot_ranked(ranked: pd.DataFrame, folds: pd.DataFrame) -> list[Plot]:
    test = folds[folds["split"] == "test"] if not folds.empty else folds
    top = ranked[ranked["status"] == "completed"].head(TOP_BOXES)
    top = top[top["trial_id"].isin(set(test["trial_id"]))] if not test.empty else top.iloc[:0]
    if top.empty:
        return []
    by = {k: g["accuracy"].to_numpy() for k, g in test.groupby(["sweep", "trial_id"], sort=False)}
    data = [by[(r.sweep, r.trial_id)] for r in top.itertuples()]
    fig, ax = figure(max(6.4, 0.28 * len(top) + 2), 4.2, bottom=0.4, left=0.08)
    ax = ax[0, 0]
    ax.boxplot(data, showmeans=True, widths=0.6)
    ax.set_xticks(
        range(1, len(top) + 1), [trial_label(r) for _, r in top.iterrows()], rotation=60, ha="right", fontsize=7
    )
    ax.set_ylabel("test fold accuracy")
    ax.set_title("Trials ranked by the validation objective: spread over the test folds", fontsize=9, y=TITLE_Y)
    return [
        Plot(
            "Ranked trials with fold spread",
            png(fig),
            f"top {len(top)} completed trials by the sweep's objective; box = per-fold test accuracy, ▲ = mean",
        )
    ]


# -- curves --------------------------------------------------------------------------------------


def top_epochs(
    ranked: pd.DataFrame, epochs: pd.DataFrame, cols: tuple[str, ...], k: int, task: str | None = None
) -> list[tuple[str, pd.DataFrame]]:
    if epochs.empty or not any(c in epochs.columns and epochs[c].notna().any() for c in cols):
        return []
    rows = ranked if task is None else ranked[ranked["task"] == task]
    chosen = top_with(rows, epochs, k)
    grouped = epochs.groupby(["sweep", "trial_id"], sort=False)
    return [(trial_label(r), grouped.get_group((r["sweep"], r["trial_id"]))) for _, r in chosen.iterrows()]


def top_with(ranked: pd.DataFrame, table: pd.DataFrame, k: int) -> pd.DataFrame:
    """The first ``k`` ranked trials that have rows in ``table`` (matched on sweep and trial_id)."""
    have = pd.MultiIndex.from_frame(table[["sweep", "trial_id"]].drop_duplicates())
    mask = pd.MultiIndex.from_frame(ranked[["sweep", "trial_id"]]).isin(have)
    return ranked[mask].head(k)


def curves(
    series: list[tuple[str, pd.DataFrame]],
    cols: tuple[str, ...],
    title: str,
    caption: str,
    logy: tuple[bool, ...] | None = None,
) -> list[Plot]:
    fig = curves_figure(series, cols, logy)
    return [] if fig is None else [Plot(title, png(fig), caption)]


def curves_figure(
    series: list[tuple[str, pd.DataFrame]], cols: tuple[str, ...], logy: tuple[bool, ...] | None = None
) -> Any:
    """One panel per column; the legend below the panels, where it cannot cover a curve."""
    keep = [j for j, c in enumerate(cols) if any(c in e.columns and e[c].notna().any() for _, e in series)]
    if not series or not keep:
        return None
    cols = tuple(cols[j] for j in keep)
    logy = tuple(logy[j] for j in keep) if logy else None
    rows = -(-len(series) // 3)  # legend rows, three entries each
    height = 3.0 + 0.18 * rows
    fig, axes = figure(max(4.0 * len(cols), 6.4), height, ncols=len(cols), bottom=(0.5 + 0.18 * rows) / height)
    for j, col in enumerate(cols):
        ax = axes[0, j]
        for label, e in series:
            if col in e.columns:
                ax.plot(e["epoch"], e[col], marker=".", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(col, fontsize=9, y=TITLE_Y)
        if logy and logy[j]:
            ax.set_yscale("log")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=7, frameon=False)
    return fig


def plot_curves(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[Plot]:
    """One figure per task: a VAE's summed loss and a classifier's cross-entropy share no scale."""
    out = []
    for task in sorted(ranked["task"].dropna().unique()):
        series = top_epochs(ranked, epochs, ("train_loss", "val_accuracy"), TOP_CURVES, task=task)
        out += curves(
            series,
            ("train_loss", "val_accuracy"),
            f"Training curves: {task}",
            f"top {len(series)} {task} trials by validation rank",
        )
    return out


# -- verification and classification -------------------------------------------------------------


def plot_roc(ranked: pd.DataFrame, roc: pd.DataFrame) -> list[Plot]:
    if roc.empty:
        return []
    test = roc[roc["split"] == "test"]
    chosen = top_with(ranked, test, TOP_ROC)
    if chosen.empty:
        return []
    grouped = test.groupby(["sweep", "trial_id"], sort=False)
    curves = [(r, grouped.get_group((r["sweep"], r["trial_id"]))) for _, r in chosen.iterrows()]
    floor = roc_floor([g["fpr"] for _, g in curves])
    fig, ax = figure(5.2, 4.0)
    ax = ax[0, 0]
    for r, g in curves:
        ax.plot(g["fpr"].clip(lower=floor), g["tpr"], label=f"{trial_label(r)} (AUC {r.get('test_auc', np.nan):.3f})")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1)
    ax.set_xlabel("false accept rate (log)")
    ax.set_ylabel("true accept rate")
    ax.legend(fontsize=6, loc="lower right")
    return [
        Plot(
            "ROC of the top trials",
            png(fig),
            f"test pairs, top {len(chosen)} by validation rank; the axis starts at FAR {floor:.1e}, one false "
            "accept among these impostor pairs: a smaller rate cannot be measured on them",
        )
    ]


def roc_floor(fprs: list[pd.Series]) -> float:
    """The smallest false accept rate the pairs resolve: the smallest non-zero FAR on the curves (one impostor pair
    over the number of impostor pairs); 1e-4 where no curve has one."""
    positive = [float(f[f > 0].min()) for f in fprs if (f > 0).any()]
    return min(positive) if positive else 1e-4


def plot_distances(ranked: pd.DataFrame, load: Callable[[str, str], dict | None]) -> list[Plot]:
    """Same/different score histograms with the per-fold thresholds; ``load(path, file)`` reads an npz."""
    out = []
    for _, r in ranked[(ranked["status"] == "completed") & (ranked["task"] != "cifar")].iterrows():
        a = load(r["location"], "verification.npz")
        if not a or "scores" not in a or "same" not in a:
            continue
        s, same = np.asarray(a["scores"], float), np.asarray(a["same"], bool)
        fig, ax = figure(5.2, 3.2)
        ax = ax[0, 0]
        bins = np.histogram_bin_edges(s[np.isfinite(s)], bins=60)
        # stepfilled: one polygon per histogram instead of 60 bar patches (same picture, a fraction of the cost)
        ax.hist(s[same], bins=bins, alpha=0.55, label="same", density=True, histtype="stepfilled")
        ax.hist(s[~same], bins=bins, alpha=0.55, label="different", density=True, histtype="stepfilled")
        for t in np.asarray(a.get("thresholds", []), float):
            ax.axvline(t, color="k", lw=0.5, alpha=0.4)
        if len(a.get("thresholds", [])):
            ax.axvline(float(np.median(a["thresholds"])), color="k", lw=1.5, label="threshold (median of folds)")
        ax.set_xlabel(f"score ({a.get('metric', 'score')})")
        # Above the gap between the two bumps, with headroom; "best" cannot see around filled steps.
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
        ax.legend(fontsize=7, loc="upper center")
        out.append(
            Plot(
                f"Score distributions: {trial_label(r)}",
                png(fig),
                "test pairs; thin lines = each fold's threshold chosen on the other folds",
            )
        )
        if len(out) >= TOP_DIST:
            break
    return out


def plot_confusion(ranked: pd.DataFrame, confusion: pd.DataFrame) -> list[Plot]:
    if confusion.empty:
        return []
    grouped = confusion.groupby(["sweep", "trial_id"], sort=False)
    out = []
    for _, r in top_with(ranked, confusion, TOP_CONF).iterrows():
        g = grouped.get_group((r["sweep"], r["trial_id"]))
        k = int(g["true_index"].max()) + 1
        m = np.zeros((k, k))
        m[g["true_index"], g["pred_index"]] = g["count"]
        names = g.drop_duplicates("true_index").sort_values("true_index")["true"].map(lambda n: short(n, 12))
        norm = m / np.maximum(m.sum(1, keepdims=True), 1)
        fig, ax = figure(5.0, 4.6, bottom=0.25, left=0.2)
        ax = ax[0, 0]
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        if k <= 12:
            for i, j in np.ndindex(k, k):
                ax.text(
                    j,
                    i,
                    int(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
        ax.set_xticks(range(k), list(names), rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(k), list(names), fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        fig.colorbar(im, ax=ax, label="row-normalised")
        out.append(Plot(f"Confusion matrix: {trial_label(r)}", png(fig), "counts; colour = recall"))
    return out


def plot_pareto(trials: pd.DataFrame) -> list[Plot]:
    done = trials[(trials["status"] == "completed") & trials["score"].notna()]
    costs = [c for c in ("flops", "train_s") if c in done.columns and done[c].notna().any()]
    if done.empty or not costs:
        return []
    fig, axes = figure(4.2 * len(costs), 3.6, ncols=len(costs), bottom=0.16)
    for j, cost in enumerate(costs):
        ax = axes[0, j]
        for task, rows in done.dropna(subset=[cost]).groupby("task"):
            ax.scatter(rows[cost], rows["score"], s=12, alpha=0.5, label=str(task))
            front = pareto_front(rows[cost].to_numpy(float), rows["score"].to_numpy(float))
            f = rows.iloc[front].sort_values(cost)
            ax.step(f[cost], f["score"], where="post", lw=1.5)
            ax.scatter(f[cost], f["score"], s=30, facecolors="none", edgecolors="k")
        lo, hi = done[cost].min(), done[cost].max()
        if lo > 0 and hi / lo > 20:
            ax.set_xscale("log")
        ax.set_xlabel(cost)
        ax.set_ylabel("test score")
    axes[0, 0].legend(fontsize=7)
    return [
        Plot(
            "Accuracy against cost",
            png(fig),
            "circled = Pareto front (no trial is both cheaper "
            "and more accurate); score = test_accuracy_mean (verification) or test_accuracy (cifar)",
        )
    ]


def pareto_front(cost: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices of points no other point beats on both (lower cost, higher score); O(n log n)."""
    order = np.lexsort((-score, cost))
    best = -np.inf
    keep = []
    for i in order:
        if score[i] > best:
            keep.append(i)
            best = score[i]
    return np.array(keep, dtype=np.int64)
