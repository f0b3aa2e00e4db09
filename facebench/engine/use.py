"""A trained trial put to use: embeddings of any dataset (``facebench embed``) and verification of the model on
any sets (``facebench eval model``).

The model is the one the trial chose on validation (its checkpoint's ``best`` weights), read with
``weights_only``; images are prepared as the trial prepared them (``data.image_size``, ``data.crop``,
``data.color``, the one input normalisation) and embedded with its ``eval.flip`` (and its fitted
``eval.whiten`` whitening); scores use its ``eval.metric`` and ``eval.normalize``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..artefacts import ARTEFACTS, CHECKPOINT, CONFIG
from ..config import TrialConfig
from ..errors import ConfigError, DataError
from .checkpoint import load_checkpoint
from .loop import resolve_device
from .sets import TRAIN_IDENTITIES


@dataclass
class Trained:
    cfg: TrialConfig
    model: torch.nn.Module
    device: torch.device
    people: set[str] | None  # the identities it trained and validated on; None for a trial that did not record them
    whitening: Any = None  # eval.whiten: the trial's fitted whitening (artefacts/whitening.npz)


def load_trained(run_dir: str | Path) -> Trained:
    """The trial at ``run_dir`` with the weights chosen on validation, in eval mode."""
    from .build import build_model

    run = Path(run_dir)
    for name in (CONFIG, CHECKPOINT):
        if not (run / name).is_file():
            raise DataError(f"{run / name}: not found; RUN_DIR is a trial directory written with train.checkpoint=true")
    try:  # a hand-edited, truncated or foreign config.json is the user's file, not a bug
        flat = json.loads((run / CONFIG).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{run / CONFIG}: not a readable trial config ({' '.join(str(e).split())})") from None
    if not isinstance(flat, dict):
        raise DataError(f"{run / CONFIG}: a trial config is a JSON object of keys, got {type(flat).__name__}")
    cfg = TrialConfig.from_dict(flat)
    if cfg.task == "cifar":
        raise ConfigError(f"{run}: a CIFAR classifier; embed and eval model are for face and autoencoder trials")
    state = load_checkpoint(run / CHECKPOINT)
    weights = (state.get("best") or {}).get("model") or state["model"]
    device = resolve_device(cfg.train.device)
    model = build_model(cfg)
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as e:  # another architecture's or a mangled state dict
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"{run / CHECKPOINT}: its weights do not fit the model {run / CONFIG} describes ({first})"
        ) from None
    ids = run / ARTEFACTS / TRAIN_IDENTITIES
    people = set(ids.read_text(encoding="utf-8").split("\n")) - {""} if ids.is_file() else None
    return Trained(cfg, model.to(device).eval(), device, people, _whitening(run, cfg))


def _whitening(run: Path, cfg: TrialConfig) -> Any:
    from ..artefacts import WHITENING_NPZ, load_npz
    from ..eval.whiten import Whitening

    if not cfg.eval.whiten:
        return None
    path = run / ARTEFACTS / WHITENING_NPZ
    if not path.is_file():
        raise DataError(
            f"{path}: not found; the trial used eval.whiten={cfg.eval.whiten}, whose fitted whitening "
            "its embeddings need"
        )
    arrays = load_npz(path, name=str(path))
    return Whitening(arrays["mean"], arrays["projection"])


def embed(t: Trained, images: np.ndarray) -> np.ndarray:
    from ..eval.embed import embed_images

    emb = embed_images(t.model.encode, images, batch_size=t.cfg.eval.batch_size, flip=t.cfg.eval.flip, device=t.device)
    return t.whitening.apply(emb) if t.whitening is not None else emb


def embed_dataset(run_dir: str | Path, data: str | Path, out: str | Path, *, progress: bool = False) -> tuple[int, int]:
    """Embeddings of every image of ``data`` -> ``out`` (.npz or .parquet); returns (images, dimension)."""
    from ..data.images import Decoding
    from ..data.sets import dataset_images
    from ..eval.files import write_embeddings

    out = Path(out)
    if out.suffix.lower() not in (".npz", ".parquet", ".pq"):
        raise DataError(f"{out}: unknown embeddings format {out.suffix!r}; use .npz or .parquet")
    if out.exists():
        raise DataError(f"{out}: already exists; choose another --out (facebench does not overwrite it)")
    t = load_trained(run_dir)
    d = t.cfg.data
    names, images = dataset_images(data, Decoding.of(d, progress=progress))
    emb = embed(t, images)
    write_embeddings(out, names, emb)
    return len(names), emb.shape[1]


def evaluate_model(run_dir: str | Path, paths: list[str], *, folds: str = "") -> list[dict[str, Any]]:
    """Verification of the trial's model on each set; one row per set (the rows of the ``sets`` table)."""
    from ..data.images import Decoding
    from ..data.pairs import check_no_leakage
    from ..data.sets import load_set, plan_sets
    from ..eval.verification import evaluate, pair_scores
    from .sets import set_row

    t = load_trained(run_dir)
    d, e = t.cfg.data, t.cfg.eval
    rows = []
    for name, path, chosen in plan_sets(",".join(paths), folds):
        vs = load_set(path, Decoding.of(d), folds=chosen, name=name)
        if vs.people is not None and t.people is not None:
            check_no_leakage(t.people, vs.people, where=f"{run_dir} vs {path}")
        scores, greater = pair_scores(
            embed(t, vs.images), vs.pairs.a, vs.pairs.b, metric=e.metric, normalize=e.normalize
        )
        result = evaluate(scores, vs.pairs.same, vs.pairs.fold, greater_is_same=greater)
        rows.append(set_row(vs.name, vs.path, vs.info, result))
    return rows
