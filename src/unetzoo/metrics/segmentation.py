"""Per-image segmentation metrics and the stateful :class:`SegmentationMetrics` accumulator."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from scipy.special import expit

from unetzoo.metrics.confusion import class_scores, confusion_matrix, pixel_accuracy
from unetzoo.metrics.distance import hausdorff_distance
from unetzoo.metrics.em import em_scores

ArrayLike = np.ndarray | torch.Tensor
SCORES = ("dice", "iou", "precision", "recall", "specificity")


def _numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _mean(values: list[float]) -> float:
    """Mean of the non-NaN values (an ``inf`` propagates); NaN if there are none."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def compute_all(
    pred_mask: ArrayLike, gt_mask: ArrayLike, num_classes: int = 2, em: bool = False, *, empty: float = 1.0
) -> dict[str, float]:
    """Every metric of one image from two label maps (H, W) of class ids (binary: 0 = background, 1 = foreground).

    Keys: ``dice, iou, precision, recall, specificity, hd95`` of the foreground (binary) or their mean over the
    foreground classes 1..C-1 (multiclass), ``miou`` (mean IoU over **all** classes, background included, as in
    the PyConvU-Net paper), ``accuracy`` (pixel accuracy); for C > 2 also ``dice_<c>`` and ``iou_<c>`` per class;
    with ``em=True`` also ``adapted_rand_error, vi_split, vi_merge, v_rand, v_info`` on the connected
    components of the foreground (all non-zero classes). ``hd95`` is in pixels.

    Empty masks: see :mod:`unetzoo.metrics.confusion` (``empty`` is the score of a class absent from both
    masks) and :func:`unetzoo.metrics.distance.hausdorff_distance` (NaN / inf).
    """
    pred, gt = _numpy(pred_mask), _numpy(gt_mask)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"expected two (H, W) label maps, got {pred.shape} and {gt.shape}")
    cm = confusion_matrix(pred, gt, num_classes)
    per_class = [class_scores(cm, c, empty) for c in range(num_classes)]
    foreground = range(1, num_classes)
    out = {key: _mean([per_class[c][key] for c in foreground]) for key in SCORES}
    out["miou"] = _mean([scores["iou"] for scores in per_class])
    out["accuracy"] = pixel_accuracy(cm)
    out["hd95"] = _mean([hausdorff_distance(pred == c, gt == c) for c in foreground])
    if num_classes > 2:
        for c, scores in enumerate(per_class):
            out[f"dice_{c}"], out[f"iou_{c}"] = scores["dice"], scores["iou"]
    if em:
        out.update(em_scores(pred != 0, gt != 0))
    return out


class SegmentationMetrics:
    """Stateful metrics over a dataset: ``update(pred, target)`` per batch, then ``compute()``; ``reset()``.

    Args:
        mode: ``binary`` (one foreground class) or ``multiclass``.
        num_classes: class count including background (multiclass only; binary is 2).
        threshold: binary probability threshold (a pixel is foreground if ``p > threshold``).
        from_logits: float binary predictions are logits (sigmoid applied) rather than probabilities.
        empty: score of a class absent from both prediction and ground truth (default 1: a correct empty
            prediction is perfect); ``float("nan")`` leaves such cases out of the means.
        em: also compute the EM scores.

    ``pred`` may be, per batch: float logits / probabilities (N, 1, H, W) or (N, H, W) in binary mode,
    float scores (N, C, H, W) in multiclass mode (argmax), or integer / bool label maps (N, H, W) or
    (N, 1, H, W). ``target``: label maps (N, H, W) or (N, 1, H, W). Tensors or numpy arrays.

    ``per_image()`` returns one dict per image (keys of :func:`compute_all`); ``compute()`` returns the mean
    over images of each key, skipping NaN and ``inf`` values (e.g. ``hd95`` of an image where one mask is
    empty), plus ``n_images`` and ``hd95_n_inf`` (how many images had an infinite HD95).
    """

    def __init__(
        self,
        mode: Literal["binary", "multiclass"] = "binary",
        num_classes: int | None = None,
        *,
        threshold: float = 0.5,
        from_logits: bool = True,
        empty: float = 1.0,
        em: bool = False,
    ) -> None:
        if mode == "binary":
            if num_classes not in (None, 2):
                raise ValueError(f"binary mode has 2 classes (background, foreground), got num_classes={num_classes}")
            num_classes = 2
        elif mode == "multiclass":
            if num_classes is None or num_classes < 2:
                raise ValueError("multiclass mode needs num_classes >= 2 (background included)")
        else:
            raise ValueError(f"mode must be 'binary' or 'multiclass', got {mode!r}")
        self.mode = mode
        self.num_classes = num_classes
        self.threshold = threshold
        self.from_logits = from_logits
        self.empty = empty
        self.em = em
        self._rows: list[dict[str, float]] = []

    def to_labels(self, pred: ArrayLike) -> np.ndarray:
        """Hard (N, H, W) label maps from any accepted prediction form."""
        x = _numpy(pred)
        if x.dtype.kind in "biu":
            return (x[:, 0] if x.ndim == 4 and x.shape[1] == 1 else x).astype(np.int64)
        if self.mode == "multiclass":
            if x.ndim != 4 or x.shape[1] != self.num_classes:
                raise ValueError(f"multiclass scores must be (N, {self.num_classes}, H, W), got {x.shape}")
            return x.argmax(axis=1)
        if x.ndim == 4:
            if x.shape[1] != 1:
                raise ValueError(f"binary scores must have one channel, got {x.shape}; use mode='multiclass'")
            x = x[:, 0]
        probs = expit(x) if self.from_logits else x
        return (probs > self.threshold).astype(np.int64)

    def update(self, pred: ArrayLike, target: ArrayLike) -> list[dict[str, float]]:
        """Score a batch; returns (and stores) its per-image rows."""
        labels = self.to_labels(pred)
        gt = _numpy(target)
        gt = gt[:, 0] if gt.ndim == 4 and gt.shape[1] == 1 else gt
        if labels.shape != gt.shape or labels.ndim != 3:
            raise ValueError(f"prediction {labels.shape} and target {gt.shape} must be matching (N, H, W) maps")
        rows = [compute_all(p, t, self.num_classes, self.em, empty=self.empty) for p, t in zip(labels, gt, strict=True)]
        self._rows.extend(rows)
        return rows

    def per_image(self) -> list[dict[str, float]]:
        return [dict(row) for row in self._rows]

    def compute(self) -> dict[str, float]:
        if not self._rows:
            raise ValueError("no images scored yet: call update() first")
        out: dict[str, float] = {}
        for key in self._rows[0]:
            finite = [row[key] for row in self._rows if math.isfinite(row[key])]
            out[key] = float(np.mean(finite)) if finite else float("nan")
        out["n_images"] = len(self._rows)
        out["hd95_n_inf"] = sum(math.isinf(row["hd95"]) for row in self._rows)
        return out

    def reset(self) -> None:
        self._rows.clear()
