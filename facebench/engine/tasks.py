"""The three training objectives as task objects for the one training loop.

A task's ``train_step`` returns a dict of scalar loss components (timm's TrainingTask style) with
``"loss"`` the one that is back-propagated; the loop logs every component as ``train_<name>``.
``validate`` gives the per-epoch validation metrics, each with its standard error (``<metric>_se``), from
which ``train.objective`` picks the trial's epoch and value; ``final`` runs the test protocol once, on the
model chosen on validation, and writes the task's artefacts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import artefacts
from . import probes
from .checkpoint import cpu_state_dict
from .errors import NonFiniteLoss
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
    """The model, its loss and the data it is judged on, under the trial's (immutable) config."""

    def __init__(
        self,
        *,
        cfg: Any,
        model: torch.nn.Module,
        loss_fn: torch.nn.Module,
        data: Any,
        device: torch.device,
        model_step: Callable | None = None,
    ) -> None:
        self.cfg, self.model, self.loss_fn, self.data, self.device = cfg, model, loss_fn, data, device
        self.eval_cfg = cfg.eval
        # What the training step calls: the model, or torch.compile(model); the state saved is always the model's.
        self.model_step = model_step or model
        self._whitening: Any = None  # eval.whiten, fitted lazily (whitening())

    def train(self) -> None:
        self.model.train()
        self.loss_fn.train()
        self._whitening = None  # the weights are about to change

    def whitening(self) -> Any:
        """eval.whiten: fitted on the training images' embeddings under the current weights, once per weights."""
        from ..eval.whiten import fit_rows, fit_whitening

        if self._whitening is None:
            train = self.data.train.images
            rows = fit_rows(len(train), seed=self.cfg.train.seed)
            self._whitening = fit_whitening(
                self.encode(train[rows] if len(rows) < len(train) else train), self.eval_cfg.whiten
            )
        return self._whitening

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "loss": self.loss_fn.state_dict()}

    def cpu_state_dict(self) -> dict[str, Any]:
        """A detached CPU copy: the best-so-far weights kept in memory must not alias the live ones."""
        return {"model": cpu_state_dict(self.model), "loss": cpu_state_dict(self.loss_fn)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.loss_fn.load_state_dict(state["loss"])
        self._whitening = None

    @torch.no_grad()
    def encode(self, images: np.ndarray, *, flip: str | None = None, head: bool = False) -> np.ndarray:
        """Embeddings (or, with ``head``, inference logits) of uint8 NHWC images in eval mode."""
        from ..eval.embed import embed_images

        self.model.eval()
        self.loss_fn.eval()
        fn = self.model.encode
        if head:
            fn = lambda x: self.loss_fn.logits(self.model.encode(x))  # noqa: E731 - a one-line adapter
        out = embed_images(
            fn,
            images,
            batch_size=self.eval_cfg.batch_size,
            flip=flip if flip is not None else self.eval_cfg.flip,
            device=self.device,
        )
        if not np.isfinite(out).all():
            # Finite losses can still leave NaN weights behind (e.g. a diverged BN statistic).
            raise NonFiniteLoss("non-finite embeddings at evaluation: the weights diverged")
        return out

    def verify(self, images: np.ndarray, pairs: Any) -> Any:
        from ..eval.verification import evaluate, pair_scores

        emb = self.encode(images)
        if self.eval_cfg.whiten:
            emb = self.whitening().apply(emb)
        scores, greater = pair_scores(
            emb, pairs.a, pairs.b, metric=self.eval_cfg.metric, normalize=self.eval_cfg.normalize
        )
        return evaluate(scores, pairs.same, pairs.fold, greater_is_same=greater), scores

    def validate(self) -> dict[str, float]:
        """``val_accuracy_se`` is clustered by person (eval.uncertainty.pair_cluster_se: pairs that share someone
        are not independent); ``val_auc_se`` is still Hanley & McNeil's, which treats pairs as independent."""
        from ..eval.uncertainty import auc_se, pair_cluster_se

        pairs, people = self.data.val_pairs, np.asarray(self.data.val.labels)
        r, _ = self.verify(self.data.val.images, pairs)
        correct = (np.asarray(r.predicted, dtype=bool) == np.asarray(pairs.same, dtype=bool)).astype(np.float64)
        # accuracy_mean is the mean of the folds' accuracies: each pair weighs 1 / (its fold's size)
        _, f_idx, sizes = np.unique(np.asarray(pairs.fold), return_inverse=True, return_counts=True)
        se = pair_cluster_se(correct, people[pairs.a], people[pairs.b], 1.0 / sizes[f_idx.ravel()])
        return {
            "val_accuracy": r.accuracy_mean,
            "val_accuracy_se": se,
            "val_auc": r.auc,
            "val_auc_se": auc_se(r.auc, r.n_same, r.n_diff),
        }

    def final(self, out_dir: Path) -> dict[str, float]:
        d = self.data
        for split, images, pairs in (("val", d.val.images, d.val_pairs), ("test", d.test.images, d.test_pairs)):
            result, scores = self.verify(images, pairs)
            artefacts.write_verification(
                out_dir,
                result,
                scores=scores,
                same=pairs.same,
                fold=pairs.fold,
                metric=self.eval_cfg.metric,
                split=split,
            )
        if self._whitening is not None:  # what `facebench embed` / `eval model` apply with these weights
            artefacts.save_npz(
                out_dir / artefacts.WHITENING_NPZ, mean=self._whitening.mean, projection=self._whitening.projection
            )
        # the loop's last pass: the test protocol, touched once; then the named sets of eval.sets, once each
        people = set(d.train.classes) | set(d.val.classes)
        return {**result.summary("test_"), **test_sets(self.cfg, self.verify, out_dir, people=people)}


class ClassificationTask(_Task):
    """task ``face``: identity classification through a (margin) head, judged by verification."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, epoch: float) -> dict[str, torch.Tensor]:
        out = self.loss_fn(self.model_step(x), y)
        comps = scalar_components(out)
        comps["accuracy"] = (out["logits"].detach().argmax(1) == y).float().mean()
        return comps


class CifarTask(ClassificationTask):
    """task ``cifar``: classification; margin heads classify through ``loss.logits`` (no margin)."""

    def _logits(self, images: np.ndarray) -> np.ndarray:
        return self.encode(images, flip="none", head=True)

    def validate(self) -> dict[str, float]:
        v = self.data.val
        logits = torch.from_numpy(np.asarray(self._logits(v.images), dtype=np.float32))
        labels = torch.from_numpy(np.asarray(v.labels))
        from ..eval.uncertainty import accuracy_se, mean_se

        acc = float((logits.argmax(1) == labels).float().mean())
        losses = F.cross_entropy(logits, labels, reduction="none").numpy()
        return {
            "val_accuracy": acc,
            "val_accuracy_se": accuracy_se(acc, len(labels)),
            "val_loss": float(losses.mean()),
            "val_loss_se": mean_se(losses),
        }

    def final(self, out_dir: Path) -> dict[str, float]:
        from ..eval.classification import classification_metrics

        t = self.data.test
        logits = self._logits(t.images)
        res = classification_metrics(logits, t.labels, num_classes=self.data.num_classes, class_names=list(t.classes))
        # per-image decisions: what the confirmation stage pairs runs on (the same test images, image by image)
        artefacts.save_npz(
            out_dir / artefacts.PREDICTIONS_NPZ,
            label=np.asarray(t.labels, dtype=np.int64),
            pred=np.asarray(logits).argmax(axis=1).astype(np.int64),
        )
        probes.write_classification(out_dir / "classification.json", res)
        artefacts.write_table(out_dir, "confusion", artefacts.confusion_columns(res["confusion"], list(t.classes)))
        return probes.classification_summary(res)


class AutoencoderTask(_Task):
    """task ``autoencoder``: AE/DAE/VAE objective; verification on the encoder embedding (mu)."""

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, epoch: float) -> dict[str, torch.Tensor]:
        out = self.model_step(x)
        return scalar_components(self.loss_fn(out, out["target"], epoch=epoch))

    def final(self, out_dir: Path) -> dict[str, float]:
        metrics = super().final(out_dir)
        self.model.eval()
        images = self.data.test.images
        with torch.no_grad():
            probes.write_reconstructions(out_dir, self.model, images, device=self.device)
            metrics.update(
                probes.write_latents(
                    out_dir / "latents.npz", self.model, images, batch_size=self.eval_cfg.batch_size, device=self.device
                )
            )
        return metrics


TASK_CLASSES = {"face": ClassificationTask, "cifar": CifarTask, "autoencoder": AutoencoderTask}


def build_task(task: str, **parts: Any) -> _Task:
    """``TASK_CLASSES[task](**parts)``: cfg, model, loss_fn, data, device, model_step."""
    return TASK_CLASSES[task](**parts)
