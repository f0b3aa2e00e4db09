"""Classification metrics: a hand-computed example, scikit-learn as the oracle, an absent class."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from facebench.errors import DataError
from facebench.eval.classification import classification_metrics, to_probabilities


def test_hand_computed_example():
    # 3 classes, 6 samples; predictions (argmax) = [0, 0, 1, 1, 2, 0]
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4], [0.1, 0.2, 0.7], [0.5, 0.2, 0.3]]
    )
    m = classification_metrics(probs, labels, class_names=["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["confusion"].tolist() == [[2, 0, 0], [0, 2, 0], [1, 0, 1]]
    assert m["confusion_normalized"][2].tolist() == [0.5, 0.0, 0.5]
    # precision: a 2/3, b 1, c 1; recall: a 1, b 1, c 1/2
    assert m["macro_precision"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 1 + 2 / 3) / 3)
    # class c one-vs-rest: positives .7 .3 vs negatives .1 .1 .1 .4 -> 7 of 8 pairs ordered correctly
    assert m["per_class"][2]["auroc"] == pytest.approx(7 / 8)
    assert m["per_class"][2]["class"] == "c"


def test_matches_sklearn_on_random_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    logits = rng.normal(size=(400, 5)) + 2 * np.eye(5)[labels]
    m = classification_metrics(logits, labels)
    probs = to_probabilities(logits)
    pred = probs.argmax(1)
    assert np.allclose(probs.sum(1), 1) and (pred == logits.argmax(1)).all()
    assert m["macro_precision"] == pytest.approx(precision_score(labels, pred, average="macro"))
    assert m["macro_recall"] == pytest.approx(recall_score(labels, pred, average="macro"))
    assert m["macro_f1"] == pytest.approx(f1_score(labels, pred, average="macro"))
    assert m["auroc"] == pytest.approx(roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
    onehot = np.eye(5)[labels]
    assert m["auprc"] == pytest.approx(average_precision_score(onehot, probs, average="macro"))
    # Probabilities in, the same numbers out (no second softmax).
    assert classification_metrics(probs, labels)["auroc"] == pytest.approx(m["auroc"])


def test_absent_class_is_skipped_with_a_note():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 60)  # class 3 never occurs
    logits = rng.normal(size=(60, 4))
    m = classification_metrics(logits, labels, num_classes=4)
    assert np.isnan(m["per_class"][3]["auroc"]) and any("'3'" in n for n in m["notes"])
    present = [roc_auc_score(labels == c, to_probabilities(logits)[:, c]) for c in range(3)]
    assert m["auroc"] == pytest.approx(np.mean(present))
    assert m["confusion"].shape == (4, 4) and m["confusion"][3].sum() == 0


def test_bad_inputs():
    with pytest.raises(DataError, match="labels must be integers in 0..2"):
        classification_metrics(np.zeros((2, 3)), [0, 3])
    with pytest.raises(DataError, match="NaN"):
        classification_metrics(np.array([[np.nan, 0.0]]), [0])
    with pytest.raises(DataError, match="2 class names for 3"):
        classification_metrics(np.zeros((2, 3)), [0, 1], class_names=["a", "b"])
