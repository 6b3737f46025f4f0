"""Boundary distance: the (percentile) Hausdorff distance between two binary masks."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _edges(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels: the mask minus its erosion (cross-shaped element; the image border counts as outside)."""
    return mask ^ ndimage.binary_erosion(mask)


def hausdorff_distance(
    pred: np.ndarray, target: np.ndarray, percentile: float | None = 95.0, spacing: tuple[float, ...] | None = None
) -> float:
    """Symmetric percentile Hausdorff distance between the boundaries of two binary masks (2D or 3D), in pixels,
    or in mm with ``spacing`` (the voxel size along each array axis: a volume's ``(z, y, x)`` spacing).

    For each boundary pixel of one mask, the Euclidean distance to the nearest boundary pixel of the other
    (scipy ``distance_transform_edt``); the ``percentile`` (linear interpolation; None = maximum, the classic
    Hausdorff distance) is taken in each direction and the larger of the two is returned. This is MONAI's
    ``HausdorffDistanceMetric(percentile=95)`` convention (boundaries by erosion, not subvoxel surfaces).

    Empty masks: both empty -> NaN (nothing to measure); exactly one empty -> ``inf``. Aggregates leave
    both out of their means (see :class:`unetzoo.metrics.SegmentationMetrics`).
    """
    pred, target = np.asarray(pred, dtype=bool), np.asarray(target, dtype=bool)
    if pred.shape != target.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {target.shape}")
    if not pred.any() and not target.any():
        return float("nan")
    if not pred.any() or not target.any():
        return float("inf")
    edges_pred, edges_target = _edges(pred), _edges(target)
    to_target = ndimage.distance_transform_edt(~edges_target, sampling=spacing)[edges_pred]
    to_pred = ndimage.distance_transform_edt(~edges_pred, sampling=spacing)[edges_target]
    if percentile is None:
        return float(max(to_target.max(), to_pred.max()))
    return float(max(np.percentile(to_target, percentile), np.percentile(to_pred, percentile)))
