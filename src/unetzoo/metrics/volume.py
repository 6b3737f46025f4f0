"""Volume-level scores: per-class and per-region Dice, IoU and HD95 in mm of a whole 3D label map.

Slices predicted one by one are stacked back into the volume before scoring (nnU-Net and the BraTS challenge
score cases, not slices). HD95 uses the volume's voxel spacing, so it is in mm. Empty masks follow
:mod:`unetzoo.metrics.confusion` (Dice 1 when both are empty) and :func:`~unetzoo.metrics.distance.hausdorff_distance`
(NaN when both are empty, inf when one is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from unetzoo.data.regions import Regions
from unetzoo.metrics.confusion import class_scores, confusion_matrix
from unetzoo.metrics.distance import hausdorff_distance


def _mean(values: list[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    return float(np.mean(kept)) if kept else float("nan")


def _binary(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]) -> dict[str, float]:
    scores = class_scores(confusion_matrix(pred.astype(np.uint8), gt.astype(np.uint8), 2), 1)
    return {"dice": scores["dice"], "iou": scores["iou"], "hd95": hausdorff_distance(pred, gt, spacing=spacing)}


def volume_scores(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    spacing: Sequence[float],
    class_names: Sequence[str],
    regions: Regions | None = None,
) -> dict[str, float]:
    """Scores of one case from two ``(z, y, x)`` label maps and the ``(z, y, x)`` voxel spacing in mm.

    Keys: ``dice_<name>``, ``iou_<name>``, ``hd95_<name>`` for every foreground class and every region;
    ``dice``, ``iou``, ``hd95``: their mean over the regions when there are regions (BraTS' mean of whole
    tumour, tumour core and enhancing tumour), else over the foreground classes (HD95: finite values only).
    """
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"expected two (z, y, x) label maps, got {pred.shape} and {gt.shape}")
    spacing = tuple(float(s) for s in spacing)
    out: dict[str, float] = {}
    per_class = {name: _binary(pred == c, gt == c, spacing) for c, name in enumerate(class_names) if c > 0}
    per_region = {}
    if regions is not None:
        per_region = {
            name: _binary(np.isin(pred, ids), np.isin(gt, ids), spacing)
            for name, ids in zip(regions.names, regions.ids, strict=True)
        }
    headline = per_region or per_class
    for key in ("dice", "iou", "hd95"):
        out[key] = _mean([scores[key] for scores in headline.values()])
    for name, scores in {**per_class, **per_region}.items():
        for key, value in scores.items():
            out[f"{key}_{name}"] = value
    return out
