"""Segmentation metrics: per image and aggregated, with explicit empty-mask behaviour (see docs/metrics.md).

* :class:`SegmentationMetrics`: stateful ``update(pred, target)`` / ``compute()`` / ``per_image()`` / ``reset()``.
* :func:`compute_all`: every metric of one image from two label maps.
* Instances: :func:`instance_counts` (one image: TP per IoU threshold, AJI sums) and
  :func:`aggregate_instances` (``map``, ``ap50``, ``f1_50``, ``aji``, ``n_true``, ``n_pred``, ``n_images``).
* Files from any tool: :func:`score_folders` (``unetzoo score``).
* Building blocks: :func:`confusion_matrix`, :func:`class_scores`, :func:`hausdorff_distance`, and the EM
  scores :func:`em_scores` / :func:`foreground_restricted_scores`.
"""

from unetzoo.data.instances import components as connected_components
from unetzoo.metrics.confusion import class_scores, confusion_matrix, pixel_accuracy
from unetzoo.metrics.distance import hausdorff_distance
from unetzoo.metrics.em import em_scores, foreground_restricted_scores
from unetzoo.metrics.instances import (
    DSB_THRESHOLDS,
    INSTANCE_KEYS,
    InstanceCounts,
    aggregate_instances,
    instance_counts,
)
from unetzoo.metrics.score import ScoreResult, score_folders
from unetzoo.metrics.segmentation import SegmentationMetrics, compute_all

__all__ = [
    "DSB_THRESHOLDS",
    "INSTANCE_KEYS",
    "InstanceCounts",
    "ScoreResult",
    "SegmentationMetrics",
    "aggregate_instances",
    "class_scores",
    "compute_all",
    "confusion_matrix",
    "connected_components",
    "em_scores",
    "foreground_restricted_scores",
    "hausdorff_distance",
    "instance_counts",
    "pixel_accuracy",
    "score_folders",
]
