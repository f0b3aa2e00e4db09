"""Classification metrics from logits or probabilities (scikit-learn does the arithmetic).

Rows that are not already probabilities (non-negative, summing to 1) are soft-maxed first. AUROC and AUPRC
are one-vs-rest macro averages over the classes that occur in ``labels``: for a class with no examples
(or only examples) the one-vs-rest AUROC is undefined, so it is left out and a note names it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError


def to_probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax unless every row already is a probability vector."""
    if (scores >= 0).all() and np.allclose(scores.sum(axis=1), 1.0, atol=1e-6):
        return scores
    z = scores - scores.max(axis=1, keepdims=True)  # shift for overflow-free exp
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_metrics(
    logits_or_probs: Any, labels: Any, *, num_classes: int | None = None, class_names: list[str] | None = None
) -> dict[str, Any]:
    """Accuracy, macro P/R/F1, macro one-vs-rest AUROC / AUPRC, confusion matrix (counts and row-normalised)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    scores, y, C = _check_inputs(logits_or_probs, labels, num_classes)
    names = list(class_names) if class_names is not None else [str(c) for c in range(C)]
    if len(names) != C:
        raise DataError(f"{len(names)} class names for {C} classes")
    probs = to_probabilities(scores)
    pred = probs.argmax(axis=1)
    classes = np.arange(C)
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    auroc, auprc, notes = _one_vs_rest(probs, y, names)
    present = support > 0
    counts = confusion_matrix(y, pred, labels=classes)
    rows = counts.sum(axis=1, keepdims=True)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        # Macro over the classes present in labels, so an absent class does not count as a zero.
        "macro_precision": float(prec[present].mean()),
        "macro_recall": float(rec[present].mean()),
        "macro_f1": float(f1[present].mean()),
        "auroc": float(np.nanmean(auroc)) if np.isfinite(auroc).any() else float("nan"),
        "auprc": float(np.nanmean(auprc)) if np.isfinite(auprc).any() else float("nan"),
        "per_class": [
            {
                "class": names[c],
                "precision": float(prec[c]),
                "recall": float(rec[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
                "auroc": float(auroc[c]),
                "auprc": float(auprc[c]),
            }
            for c in classes
        ],
        "confusion": counts,
        "confusion_normalized": counts / np.maximum(rows, 1),
        "class_names": names,
        "notes": notes,
    }


def _check_inputs(logits_or_probs: Any, labels: Any, num_classes: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(scores, labels, C)`` as float64 (N, C), flat labels in 0..C-1 and the class count, or a DataError."""
    scores = np.asarray(logits_or_probs, dtype=np.float64)
    y = np.asarray(labels).ravel()
    if scores.ndim != 2 or len(scores) != len(y) or len(y) == 0:
        raise DataError(f"need (N, C) scores and N labels, got {scores.shape} and {y.shape}")
    if not np.isfinite(scores).all():
        raise DataError("logits contain NaN or inf")
    C = int(num_classes or scores.shape[1])
    if scores.shape[1] != C:
        raise DataError(f"logits have {scores.shape[1]} columns but num_classes is {C}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= C:
        raise DataError(f"labels must be integers in 0..{C - 1}")
    return scores, y, C


def _one_vs_rest(probs: np.ndarray, y: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-class one-vs-rest ``(auroc, auprc, notes)``; NaN (and a note) where a class is absent or alone."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    C = len(names)
    auroc, auprc, notes = np.full(C, np.nan), np.full(C, np.nan), []
    for c in range(C):
        pos = y == c
        if pos.all() or not pos.any():
            notes.append(
                f"class {names[c]!r}: {'no' if not pos.any() else 'only'} examples, "
                "one-vs-rest AUROC/AUPRC undefined and left out of the macro average"
            )
            continue
        auroc[c] = roc_auc_score(pos, probs[:, c])
        auprc[c] = average_precision_score(pos, probs[:, c])
    return auroc, auprc, notes
