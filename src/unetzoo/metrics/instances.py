"""Instance segmentation scores: per-image counts (:func:`instance_counts`) and their mean over images
(:func:`aggregate_instances`). Definitions and conventions: docs/metrics.md ("Instance metrics").

Per image, at every IoU threshold t (matching: :mod:`unetzoo.metrics.matching`), TP = matched pairs,
FP = n_pred - TP, FN = n_true - TP, and

* ``ap<t>`` = TP / (TP + FP + FN): the score of the 2018 Data Science Bowl at threshold t (Caicedo et al.,
  Nature Methods 2019; Kaggle calls it "precision", StarDist ``accuracy``); ``ap50`` at t = 0.5;
* ``map``: the mean of ``ap<t>`` over t = 0.50, 0.55, ..., 0.95 (the DSB 2018 score of one image);
* ``f1_50`` = 2TP / (2TP + FP + FN), ``precision_50`` = TP / (TP + FP), ``recall_50`` = TP / (TP + FN) at 0.5;
* ``aji``: aggregated Jaccard index (Kumar et al., IEEE TMI 2017).

Empty images follow the project's one rule (:mod:`unetzoo.metrics.confusion`): a zero denominator gives
``empty`` when nothing is wrong (no FP and no FN: no object on either side) and 0 otherwise. So an image with no
true and no predicted object scores ``empty`` (default 1.0) on every score; ``empty=float("nan")`` leaves such
images out of the means. Over a dataset every score is the mean over images (the Kaggle leaderboard's
convention; NaN left out), and the counts (``n_true``, ``n_pred``, ``tp_50``, ``fp_50``, ``fn_50``) are sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from unetzoo.metrics.confusion import _ratio
from unetzoo.metrics.matching import aji_sums, overlaps, true_positives
from unetzoo.metrics.segmentation import _mean

DSB_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
"""IoU thresholds of the DSB 2018 score: 0.50, 0.55, ..., 0.95."""

INSTANCE_KEYS = ("map", "ap50", "f1_50", "aji", "n_true", "n_pred", "n_images")
"""The keys every aggregate has (``unetzoo eval --instances --json``, ``unetzoo score --instances --json``)."""

COUNT_KEYS = ("n_true", "n_pred", "tp_50", "fp_50", "fn_50")
"""Keys summed (not averaged) over images."""


def ap_key(threshold: float) -> str:
    """``ap50`` for 0.5, ``ap75`` for 0.75, ``ap32.5`` for 0.325."""
    return f"ap{round(threshold * 100, 1):g}"


DETAIL_KEYS = frozenset({*COUNT_KEYS, "precision_50", "recall_50", *(ap_key(t) for t in DSB_THRESHOLDS[1:])})
"""Per-image keys a training log leaves out (it logs ``map``, ``ap50``, ``f1_50`` and ``aji``)."""


@dataclass(frozen=True)
class InstanceCounts:
    """What one image contributes: object counts, TP per threshold and the two AJI sums."""

    n_true: int
    n_pred: int
    thresholds: tuple[float, ...]
    tp: tuple[int, ...]
    aji_intersection: int
    aji_union: int

    def at(self, threshold: float) -> tuple[int, int, int]:
        """``(TP, FP, FN)`` at one of :attr:`thresholds`."""
        tp = self.tp[self.thresholds.index(threshold)]
        return tp, self.n_pred - tp, self.n_true - tp

    def ap(self, threshold: float, empty: float = 1.0) -> float:
        tp, fp, fn = self.at(threshold)
        return _ratio(tp, tp + fp + fn, fp + fn == 0, empty)

    def scores(self, empty: float = 1.0) -> dict[str, float]:
        """The per-image row: ``map``, ``ap<t>`` per threshold, ``f1_50``, ``precision_50``, ``recall_50``,
        ``aji`` and the counts ``n_true``, ``n_pred``, ``tp_50``, ``fp_50``, ``fn_50``."""
        tp, fp, fn = self.at(0.5)
        perfect = fp + fn == 0
        row: dict[str, float] = {"map": float(np.mean([self.ap(t, empty) for t in DSB_THRESHOLDS]))}
        row.update({ap_key(t): self.ap(t, empty) for t in self.thresholds})
        row["f1_50"] = _ratio(2 * tp, 2 * tp + fp + fn, perfect, empty)
        row["precision_50"] = _ratio(tp, tp + fp, perfect, empty)
        row["recall_50"] = _ratio(tp, tp + fn, perfect, empty)
        row["aji"] = _ratio(self.aji_intersection, self.aji_union, self.aji_union == 0, empty)
        row.update(n_true=self.n_true, n_pred=self.n_pred, tp_50=tp, fp_50=fp, fn_50=fn)
        return row


def instance_counts(pred: np.ndarray, true: np.ndarray, thresholds: Sequence[float] = ()) -> InstanceCounts:
    """Counts of one image from two ``HxW`` label images (any integer ids, 0 = background).

    ``thresholds`` adds IoU thresholds (e.g. 0.3) to the DSB ones, which are always counted.
    """
    ov = overlaps(pred, true)
    levels = tuple(sorted({*DSB_THRESHOLDS, *(float(t) for t in thresholds)}))
    if not all(0.0 <= t < 1.0 for t in levels):
        raise ValueError(f"IoU thresholds must lie in [0, 1): {levels}")
    tp = tuple(true_positives(ov, t) for t in levels)
    return InstanceCounts(ov.true_area.size, ov.pred_area.size, levels, tp, *aji_sums(ov))


def aggregate_instances(counts: Iterable[InstanceCounts], empty: float = 1.0) -> dict[str, float]:
    """Dataset scores: the mean over images of every score (NaN left out) and the sum of every count, plus
    ``n_images``. Keys: :data:`INSTANCE_KEYS` and the rest of :meth:`InstanceCounts.scores`."""
    counts = list(counts)
    if not counts:
        raise ValueError("no images to aggregate")
    if len({c.thresholds for c in counts}) > 1:
        raise ValueError("the images were counted at different IoU thresholds")
    rows = [c.scores(empty) for c in counts]
    out = {k: (sum(r[k] for r in rows) if k in COUNT_KEYS else _mean([r[k] for r in rows])) for k in rows[0]}
    out["n_images"] = len(rows)
    return out
