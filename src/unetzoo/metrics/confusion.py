"""Confusion-matrix scores: Dice, IoU, precision, recall, specificity, pixel accuracy.

Empty-mask rule (one rule for every ratio): when a score's denominator is zero, it is ``empty`` if the
prediction agrees perfectly with the ground truth for that class (no false positive and no false negative),
else 0. So with the default ``empty=1.0``: Dice = IoU = 1 when both masks are empty, 0 when only one is;
precision is 1 for an empty prediction of an empty ground truth and 0 for an empty prediction of a
non-empty one; recall is 1 / 0 likewise. Pass ``empty=float("nan")`` to leave such images out of the means.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) pixel counts, rows = ground-truth class, columns = predicted class."""
    pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"prediction and ground truth differ in size: {pred.size} vs {target.size}")
    for name, labels in (("prediction", pred), ("ground truth", target)):
        if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
            raise ValueError(f"{name} must hold class ids, not probabilities or logits")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} has labels outside 0..{num_classes - 1}: {np.unique(labels).tolist()}")
    flat = target.astype(np.int64) * num_classes + pred.astype(np.int64)
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(numerator: float, denominator: float, perfect: bool, empty: float) -> float:
    if denominator > 0:
        return float(numerator / denominator)
    return empty if perfect else 0.0


def class_scores(cm: np.ndarray, c: int, empty: float = 1.0) -> dict[str, float]:
    """Dice, IoU, precision, recall (sensitivity) and specificity of class ``c`` (one-vs-rest)."""
    tp = float(cm[c, c])
    fn = float(cm[c].sum()) - tp
    fp = float(cm[:, c].sum()) - tp
    tn = float(cm.sum()) - tp - fn - fp
    perfect = fp + fn == 0
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, perfect, empty),
        "iou": _ratio(tp, tp + fp + fn, perfect, empty),
        "precision": _ratio(tp, tp + fp, perfect, empty),
        "recall": _ratio(tp, tp + fn, perfect, empty),
        "specificity": _ratio(tn, tn + fp, perfect, empty),
    }


def pixel_accuracy(cm: np.ndarray) -> float:
    """Fraction of correctly labelled pixels (1 for an image of no pixels)."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 1.0
