"""The three training objectives as task objects for the one training loop.

A task's ``train_step`` returns a dict of scalar loss components (timm's TrainingTask style) with
``"loss"`` the one that is back-propagated; the loop logs every component as ``train_<name>``.
``validate`` gives the per-epoch validation metrics (``val_accuracy`` is the sweep objective for
every task) and ``final`` runs the test protocol once, on the model chosen on validation, and writes
the task's artefacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..io import atomic_write_json
from . import artefacts
from .loop import NonFiniteLoss
from .sets import test_sets


def scalar_components(out: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The 0-d tensors and plain numbers of a loss output: the components worth logging."""
    comps = {}
    for k, v in out.items():
        if isinstance(v, torch.Tensor) and v.ndim == 0:
            comps[k] = v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            comps[k] = torch.tensor(float(v))
    return comps


class _Task:
    def __init__(self, setup: Any) -> None:
        self.s = setup

    @torch.no_grad()
    def encode(self, images: np.ndarray, *, flip: str | None = None, head: bool = False) -> np.ndarray:
        """Embeddings (or, with ``head``, inference logits) of uint8 NHWC images in eval mode."""
        from ..eval.embed import embed_images

        s = self.s
        s.model.eval()
        s.loss_fn.eval()
        fn = s.model.encode
        if head:
            fn = lambda x: s.loss_fn.logits(s.model.encode(x))  # noqa: E731 - a one-line adapter
        out = embed_images(fn, images, batch_size=s.cfg.eval.batch_size,
                           flip=flip if flip is not None else s.cfg.eval.flip, device=s.device)
        if not np.isfinite(out).all():
            # Finite losses can still leave NaN weights behind (e.g. a diverged BN statistic).
            raise NonFiniteLoss("non-finite embeddings at evaluation: the weights diverged")
        return out

    def verify(self, images: np.ndarray, pairs: Any) -> Any:
        from ..eval.verification import evaluate, pair_scores

        emb = self.encode(images)
        scores, greater = pair_scores(emb, pairs.a, pairs.b, metric=self.s.cfg.eval.metric,
                                      normalize=self.s.cfg.eval.normalize)
        return evaluate(scores, pairs.same, pairs.fold, greater_is_same=greater), scores

    def validate(self) -> dict[str, float]:
        result, _ = self.verify(self.s.data.val.images, self.s.data.val_pairs)
        return {"val_accuracy": result.accuracy_mean, "val_auc": result.auc}

    def final(self, out_dir: Path) -> dict[str, float]:
        from ..eval.files import write_verification_npz

        d = self.s.data
        metric = self.s.cfg.eval.metric
        for split, images, pairs in (("val_", d.val.images, d.val_pairs), ("", d.test.images, d.test_pairs)):
            result, scores = self.verify(images, pairs)
            write_verification_npz(out_dir / f"{split}verification.npz", scores=scores, same=pairs.same,
                                   fold=pairs.fold, result=result, metric=metric)
        test = result  # the loop's last pass: the test protocol, touched once
        atomic_write_json(out_dir / "verification.json", test.to_json())
        people = set(d.train.classes) | set(d.val.classes)
        return {**test.summary("test_"), **test_sets(self.s.cfg, self.verify, out_dir, people=people)}


class ClassificationTask(_Task):
    """task ``face``: identity classification through a (margin) head, judged by verification."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, epoch: float) -> dict[str, torch.Tensor]:
        out = self.s.loss_fn(self.s.model_step(x), y)
        comps = scalar_components(out)
        comps["accuracy"] = (out["logits"].detach().argmax(1) == y).float().mean()
        return comps


class CifarTask(ClassificationTask):
    """task ``cifar``: classification; margin heads classify through ``loss.logits`` (no margin)."""

    def _logits(self, images: np.ndarray) -> np.ndarray:
        return self.encode(images, flip="none", head=True)

    def validate(self) -> dict[str, float]:
        v = self.s.data.val
        logits = torch.from_numpy(np.asarray(self._logits(v.images), dtype=np.float32))
        labels = torch.from_numpy(np.asarray(v.labels))
        acc = (logits.argmax(1) == labels).float().mean()
        return {"val_accuracy": float(acc), "val_loss": float(F.cross_entropy(logits, labels))}

    def final(self, out_dir: Path) -> dict[str, float]:
        from ..eval.classification import classification_metrics

        t = self.s.data.test
        res = classification_metrics(self._logits(t.images), t.labels, num_classes=self.s.data.num_classes,
                                     class_names=list(t.classes))
        artefacts.write_classification(out_dir / "classification.json", res)
        return artefacts.classification_summary(res)


class AutoencoderTask(_Task):
    """task ``autoencoder``: AE/DAE/VAE objective; verification on the encoder embedding (mu)."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, epoch: float) -> dict[str, torch.Tensor]:
        out = self.s.model_step(x)
        return scalar_components(self.s.loss_fn(out, out["target"], epoch=epoch))

    def final(self, out_dir: Path) -> dict[str, float]:
        metrics = super().final(out_dir)
        s = self.s
        s.model.eval()
        with torch.no_grad():
            artefacts.write_reconstructions(out_dir, s.model, s.data.test.images, device=s.device)
            metrics.update(artefacts.write_latents(out_dir / "latents.npz", s.model, s.data.test.images,
                                                   batch_size=s.cfg.eval.batch_size, device=s.device))
        return metrics


TASK_CLASSES = {"face": ClassificationTask, "cifar": CifarTask, "autoencoder": AutoencoderTask}


def build_task(setup: Any) -> _Task:
    return TASK_CLASSES[setup.cfg.task](setup)

