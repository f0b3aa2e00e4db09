"""The autoencoder figures: the VAE's loss components apart, rate against distortion with the active units, the
loss's make-up across beta, and the top trials' reconstruction grids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from facebench import artefacts
from facebench.storage import resolve

from . import plots
from .plots import TITLE_Y, Plot, figure, png, trial_label
from .stats import is_confirmation

TOP_RECON = 4


def vae_only(trials: pd.DataFrame) -> pd.DataFrame:
    """The VAE trials (loss ``vae``): a plain or denoising autoencoder has no KL term and no beta, so their
    KL, beta and posterior-collapse plots would be flat zeros."""
    if "cfg.loss.name" not in trials.columns:
        return trials.iloc[:0]
    return trials[(trials["task"] == "autoencoder") & (trials["cfg.loss.name"] == "vae")]


def plot_vae_components(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[Plot]:
    series = plots.top_epochs(
        vae_only(ranked), epochs, ("train_recon", "train_kld"), plots.TOP_CURVES, task="autoencoder"
    )
    series = [(lbl, e) for lbl, e in series if "train_recon" in e and e["train_recon"].notna().any()]
    return plots.curves(
        series,
        ("train_recon", "train_kld", "train_beta"),
        "VAE loss components",
        "reconstruction and KL plotted apart (the loss is recon + beta·KL)",
    )


def recon_per_value(df: pd.DataFrame) -> pd.Series:
    """Last-epoch reconstruction error per pixel value: ``recon_reduction`` "sum" adds C*H*W squared errors per
    image (losses/reconstruction.py), so a 64 px trial's sum is 4x a 32 px one's at the same per-pixel error."""
    size = df["cfg.data.image_size"].astype(float) if "cfg.data.image_size" in df else pd.Series(np.nan, df.index)
    gray = df["cfg.data.color"].eq("gray") if "cfg.data.color" in df else pd.Series(False, df.index)
    values = size * size * np.where(gray, 1.0, 3.0)
    summed = df["cfg.loss.recon_reduction"].eq("sum") if "cfg.loss.recon_reduction" in df else True
    return df["train_recon"].astype(float) / np.where(summed, values, 1.0)


def plot_rate_distortion(trials: pd.DataFrame, epochs: pd.DataFrame) -> list[Plot]:
    if epochs.empty or "train_kld" not in epochs.columns or "train_recon" not in epochs.columns:
        return []
    last = epochs.dropna(subset=["train_kld", "train_recon"]).groupby(["sweep", "trial_id"], sort=False).tail(1)
    ae = vae_only(trials)
    df = last.merge(ae, on=["sweep", "trial_id"], suffixes=("", "_t"))
    if df.empty:
        return []
    two = "active_units" in df and df["active_units"].notna().any()
    fig, axes = figure(9.0 if two else 4.8, 3.6, ncols=2 if two else 1, left=0.1)
    fig.subplots_adjust(wspace=0.5)
    beta = df["cfg.loss.beta"].astype(float).fillna(1.0) if "cfg.loss.beta" in df else pd.Series(1.0, df.index)
    size = df["cfg.model.embedding_size"].astype(float).fillna(128) if "cfg.model.embedding_size" in df else 64
    sc = axes[0, 0].scatter(
        df["train_kld"],
        recon_per_value(df),
        c=np.log10(beta.clip(lower=1e-6)),
        s=np.sqrt(np.asarray(size, dtype=float)) * 4,
        cmap="viridis",
        alpha=0.8,
    )
    axes[0, 0].set_xlabel("rate: KL (last epoch)")
    axes[0, 0].set_ylabel("distortion: squared error per pixel value")
    axes[0, 0].set_title("Rate–distortion (colour log10 beta, size latent)", fontsize=8, y=TITLE_Y)
    fig.colorbar(sc, ax=axes[0, 0], label="log10 beta")
    if axes.shape[1] > 1:
        ok = df[df["active_units"].notna()]
        axes[0, 1].scatter(
            ok["latent_dims"], ok["active_units"], c=np.log10(beta[ok.index].clip(lower=1e-6)), cmap="viridis"
        )
        top = float(np.nanmax(ok["latent_dims"])) if ok["latent_dims"].notna().any() else 1.0
        axes[0, 1].plot([0, top], [0, top], "k:", lw=1)
        axes[0, 1].set_xlabel("latent dimensions")
        axes[0, 1].set_ylabel("active units (Var mu > 0.01)")
        axes[0, 1].set_title("Posterior collapse", fontsize=8, y=TITLE_Y)
    return [
        Plot(
            "Rate–distortion and active units",
            png(fig),
            "last-epoch KL against reconstruction error across beta and latent size; the error is per pixel value "
            "(a summed error divided by channels x height x width), so trials at different input sizes share the "
            "axis; units below the dotted line collapsed to the prior",
        )
    ]


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
    df = last[["sweep", "trial_id", *sorted(need)]].merge(
        vae[["sweep", "trial_id", "cfg.loss.beta", *size_col]], on=["sweep", "trial_id"]
    )
    df = df[df["cfg.loss.beta"].astype(float) > 0]
    if df.empty:
        return []
    beta = df["cfg.loss.beta"].astype(float).to_numpy()
    recon, kld = df["train_recon"].to_numpy(float), df["train_kld"].to_numpy(float)
    share = beta * kld / (recon + beta * kld)
    fig, axes = figure(9.6, 3.2, ncols=3, left=0.07)
    fig.subplots_adjust(wspace=0.45)
    sizes = df["cfg.data.image_size"].to_numpy() if size_col else np.zeros(len(df))
    for ax, y, name in zip(
        axes[0], (recon, kld, share), ("reconstruction (summed over pixels)", "KL (nats)", "share of beta·KL")
    ):
        for j, size in enumerate(sorted(set(sizes))):  # a summed reconstruction grows with the input size
            at = sizes == size
            ax.scatter(beta[at], y[at], s=16, color=f"C{j + 4}", label=f"{int(size)} px" if size_col else None)
        ax.set_xscale("log")
        ax.set_xlabel("beta")
        ax.set_title(name, fontsize=8)
    if size_col:
        axes[0, 0].legend(fontsize=7)
    caption = (
        f"last epoch of {len(df)} VAE trials. The KL term is {np.median(share):.1%} of the loss at the median "
        f"(range {share.min():.1%}-{share.max():.1%}): the total is mostly "
        f"{'reconstruction' if np.median(share) < 0.5 else 'KL'}."
    )
    return [Plot("Reconstruction and KL across beta", png(fig), caption)]


# -- reconstructions -----------------------------------------------------------------------------


def plot_recon_grids(ranked: pd.DataFrame, notes: list[str]) -> list[Plot]:
    """The top trials' reconstructions; where the latent size varies, the best trial of each latent size in
    order of size, so blur can be read against the latent size. Reads ``recon.png`` from each trial's
    ``location`` (the frame's column of where the folder is, which the tables do not keep)."""
    out = []
    rows = ranked[(ranked["task"] == "autoencoder") & (ranked["status"] == "completed")]
    by_latent = "cfg.model.embedding_size" in rows.columns and rows["cfg.model.embedding_size"].nunique() > 1
    if by_latent:
        rows = rows[rows["cfg.model.embedding_size"].notna()]
        rows = rows.drop_duplicates("cfg.model.embedding_size").sort_values("cfg.model.embedding_size")
    for _, r in rows.iterrows():
        loc = resolve(r["location"]).join(artefacts.ARTEFACTS, "recon.png")
        if loc.info().type.name != "File":
            continue
        data = loc.read_bytes()
        if not data.startswith(b"\x89PNG"):
            notes.append(f"{r['sweep']}/{r['path']}: artefacts/recon.png is not a PNG file; skipped")
            continue
        latent = f"latent {int(r['cfg.model.embedding_size'])}, " if by_latent else ""
        out.append(
            Plot(f"Reconstructions: {latent}{trial_label(r)}", data, "top row: inputs, bottom row: reconstructions")
        )
        if len(out) >= TOP_RECON:
            break
    return out
