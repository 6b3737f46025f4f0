"""One-to-one matching of predicted to true objects by IoU, and the sums of the aggregated Jaccard index.

Both label images are relabelled first (:func:`unetzoo.data.instances.relabel`: 0 = background, any other id is
one object). The overlaps come from one contingency table over the pixels where both images are
foreground (each (true, predicted) pair coded as one integer and counted by ``np.bincount``, or ``np.unique``
when the objects are too many for a dense table), so the cost is one pass over the pixels, never a loop over
objects.

**Matching** (Caicedo et al., "Nucleus segmentation across imaging experiments: the 2018 Data Science Bowl",
Nature Methods 2019): a true and a predicted object match at threshold ``t`` when their IoU is **above** ``t``
(strictly, as the Kaggle metric says). For ``t >= 0.5`` such matches are one-to-one by construction (two
disjoint objects cannot both cover more than half of a third one), so TP is the number of pairs with IoU > t.
For ``t < 0.5`` one object may have several candidates: TP is the largest number of disjoint candidate pairs,
found by ``scipy.optimize.linear_sum_assignment`` with the summed IoU as tie-breaker, as StarDist's ``matching``
does (StarDist counts IoU >= t; the two differ only when an IoU equals t exactly).

**AJI** (Kumar et al., "A Dataset and a Technique for Generalized Nuclear Segmentation for Computational
Pathology", IEEE TMI 2017): each true object G is paired with the predicted object S of largest IoU (ties: the
lowest predicted id; a predicted object may serve several true ones); ``C += |G ∩ S|``, ``U += |G ∪ S|``
(``U += |G|`` when G overlaps nothing); then every predicted object paired with no true one adds its area to U.
AJI = C / U.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from unetzoo.data.instances import relabel

_DENSE_PAIRS = 1 << 22
"""Largest ``true x predicted`` object count whose pair table is counted densely (``np.bincount``, 32 MiB)."""


@dataclass(frozen=True)
class Overlaps:
    """Object areas and every overlapping (true, predicted) pair of two relabelled label images.

    ``true_area[k]`` / ``pred_area[k]`` is the area of object ``k + 1``; ``true``, ``pred`` (0-based object
    indices) and ``inter`` list the pairs with a non-empty intersection, ``iou`` their IoU.
    """

    true_area: np.ndarray
    pred_area: np.ndarray
    true: np.ndarray
    pred: np.ndarray
    inter: np.ndarray

    @property
    def iou(self) -> np.ndarray:
        union = self.true_area[self.true] + self.pred_area[self.pred] - self.inter
        return self.inter / union


def overlaps(pred: np.ndarray, true: np.ndarray) -> Overlaps:
    """The contingency table of two label images of one size (any integer ids, 0 = background)."""
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"label images differ in shape: {pred.shape} vs {true.shape}")
    (p, n_pred), (t, n_true) = relabel(pred), relabel(true)
    p, t = p.ravel(), t.ravel()
    true_area = np.bincount(t, minlength=n_true + 1)[1:]
    pred_area = np.bincount(p, minlength=n_pred + 1)[1:]
    both = (p != 0) & (t != 0)
    pairs = (t[both].astype(np.int64) - 1) * max(n_pred, 1) + (p[both] - 1)  # one code per (true, pred) pair
    if n_true * n_pred <= _DENSE_PAIRS:
        counts = np.bincount(pairs, minlength=n_true * n_pred)
        codes = np.flatnonzero(counts)
        inter = counts[codes]
    else:
        codes, inter = np.unique(pairs, return_counts=True)
    true_index, pred_index = np.divmod(codes, max(n_pred, 1))
    return Overlaps(true_area, pred_area, true_index, pred_index, inter)


def true_positives(ov: Overlaps, threshold: float) -> int:
    """Matched pairs at ``threshold`` (IoU > threshold, one-to-one; see the module docstring)."""
    iou = ov.iou
    candidate = iou > threshold
    if threshold >= 0.5:
        return int(candidate.sum())
    rows, t = np.unique(ov.true[candidate], return_inverse=True)
    cols, p = np.unique(ov.pred[candidate], return_inverse=True)
    if not rows.size:
        return 0
    # one point per match, plus a tie-breaker below 1/2 in total: the most matches, then the largest IoU sum
    weight = np.zeros((rows.size, cols.size))
    weight[t, p] = 1.0 + iou[candidate] / (2 * min(rows.size, cols.size))
    r, c = linear_sum_assignment(weight, maximize=True)
    return int(np.count_nonzero(weight[r, c]))


def aji_sums(ov: Overlaps) -> tuple[int, int]:
    """``(C, U)`` of Kumar et al.'s aggregated Jaccard index (module docstring); AJI = C / U."""
    order = np.lexsort((ov.pred, -ov.iou, ov.true))  # per true object: largest IoU first, then lowest pred id
    first = np.ones(order.size, dtype=bool)
    first[1:] = ov.true[order][1:] != ov.true[order][:-1]
    best = order[first]
    t, p, inter = ov.true[best], ov.pred[best], ov.inter[best]
    used = np.zeros(ov.pred_area.size, dtype=bool)
    used[p] = True
    alone = np.ones(ov.true_area.size, dtype=bool)
    alone[t] = False
    intersection = int(inter.sum())
    union = int((ov.true_area[t] + ov.pred_area[p] - inter).sum())
    union += int(ov.true_area[alone].sum()) + int(ov.pred_area[~used].sum())
    return intersection, union
