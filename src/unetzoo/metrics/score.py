"""Score a folder of predictions from any tool against ground truth: ``unetzoo score`` and :func:`score_folders`.

Files are paired by stem (:mod:`unetzoo.metrics.pairing`). Every pair must have one size, and both files must
be single-channel integer label images (:func:`unetzoo.data.instances.integer_labels`); anything else stops
with one line naming the file. Files without a partner are not scored and are listed in the result
(``strict=True`` refuses them instead).

* ``instances=True``: both files are instance label images (any integer ids, 0 = background), scored with
  :func:`unetzoo.metrics.instance_counts` and :func:`unetzoo.metrics.aggregate_instances`.
  ``connected_components=True`` first splits each *prediction* into its 4-connected foreground components (to
  score a semantic model's binary mask as objects; touching objects then merge).
* otherwise masks are scored with :class:`unetzoo.metrics.SegmentationMetrics`: binary by default (any non-zero
  value is foreground, so 0/255 masks, 0/1 masks and label images all work; a JPEG mask's compression levels
  are foreground from 128 up, as training reads JPEG masks), or ``classes=C`` for class-id masks with values in
  ``0..C-1``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.instances import components, integer_labels
from unetzoo.data.io import IMAGE_EXTENSIONS, read_image
from unetzoo.data.labels import lossy_gray
from unetzoo.data.problems import fail
from unetzoo.errors import UnetzooError
from unetzoo.metrics.instances import InstanceCounts, aggregate_instances, instance_counts
from unetzoo.metrics.pairing import Pairs, pair_files
from unetzoo.metrics.segmentation import SegmentationMetrics
from unetzoo.utils.atomic import atomic_write_text


@dataclass
class ScoreResult:
    """Aggregate scores, one row per pair (``id``, ``pred``, ``gt``, then the scores), unpaired files, hints."""

    aggregate: dict[str, float]
    per_image: list[dict[str, Any]]
    unpaired_pred: list[Path] = field(default_factory=list)
    unpaired_gt: list[Path] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The aggregate (NaN/inf as None) plus ``n_unpaired_pred`` and ``n_unpaired_gt``."""
        clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in self.aggregate.items()}
        return {**clean, "n_unpaired_pred": len(self.unpaired_pred), "n_unpaired_gt": len(self.unpaired_gt)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def format_text(self) -> str:
        """``N images scored`` then one ``key value`` line per aggregate key."""
        lines = [f"{len(self.per_image)} images scored"]
        for key, value in self.to_dict().items():
            shown = "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
            lines.append(f"  {key:<24} {shown}")
        return "\n".join(lines)

    def warnings(self) -> list[str]:
        """Unpaired files (counted, first one named) and hints, one line each, for stderr."""
        lines = [
            f"warning: {len(files)} {what} no partner and were not scored (first: {files[0]}); "
            "pass --strict to refuse them"
            for files, what in ((self.unpaired_gt, "ground-truth files have"), (self.unpaired_pred, "predictions have"))
            if files
        ]
        return lines + [f"hint: {hint}" for hint in self.hints]

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        """One row per scored pair, written atomically."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        columns = list(self.per_image[0])
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in self.per_image)
        return atomic_write_text(path, buffer.getvalue())


def _read(path: Path, instances: bool, classes: int) -> np.ndarray:
    """A label image; a JPEG mask (binary only: its ids do not survive compression) as 0/1 at half its range."""
    raw = read_image(path, mask=True)
    if IMAGE_EXTENSIONS.get(path.suffix.lower()) != "JPEG":
        return integer_labels(raw, path)
    gray = lossy_gray(raw)
    if instances or classes > 2 or gray is None or gray.dtype != np.uint8:
        what = "is a JPEG, whose compression changes label values"
        raise fail(path, what, "store label images as PNG or TIFF (JPEG is read for binary 0/255 masks only)")
    return (gray >= 128).astype(np.uint8)


def _same_size(pred: np.ndarray, gt: np.ndarray, pred_path: Path, gt_path: Path) -> None:
    if pred.shape != gt.shape:
        what = f"prediction is {pred.shape[0]}x{pred.shape[1]} (HxW) but its ground truth {gt_path} is "
        raise fail(pred_path, what + f"{gt.shape[0]}x{gt.shape[1]}", "predict at the ground truth's size")


def _class_ids(labels: np.ndarray, classes: int, path: Path) -> np.ndarray:
    if classes == 2:
        return (labels != 0).astype(np.int64)
    outside = np.unique(labels[(labels < 0) | (labels >= classes)])
    if outside.size:
        what = f"values {outside[:8].tolist()} are no class id of 0..{classes - 1}"
        raise fail(path, what, "pass the right --classes, or score binary masks without it")
    return labels.astype(np.int64)


def _pairs(pred: Path, gt: Path, instances: bool, strict: bool) -> Pairs:
    found = pair_files(pred, gt, instances=instances)
    if strict and (found.unpaired_pred or found.unpaired_gt):
        first = (found.unpaired_pred or found.unpaired_gt)[0]
        side = "prediction without ground truth" if found.unpaired_pred else "ground truth without prediction"
        more = len(found.unpaired_pred) + len(found.unpaired_gt) - 1
        side += f" ({more} more unpaired files)" if more else ""
        raise fail(first, side, "pair every file, or drop --strict")
    if not found.pairs:
        raise UnetzooError(
            f"{pred}: no prediction has a ground truth in {gt} by stem; name predictions after the ground truth "
            "(img7.png, img7_mask.png, img7_cp_masks.png ... pair with img7.*)"
        )
    return found


def score_folders(
    pred: str | os.PathLike[str],
    gt: str | os.PathLike[str],
    *,
    instances: bool = False,
    connected_components: bool = False,
    classes: int = 2,
    strict: bool = False,
    thresholds: tuple[float, ...] = (),
    empty: float = 1.0,
) -> ScoreResult:
    """Score PRED (folder or file) against GT (folder, dataset root or file); see the module docstring.

    Args:
        instances: score instance label images (DSB 2018 score, F1, AJI) instead of masks.
        connected_components: with ``instances``, split each prediction into connected components first.
        classes: semantic mode: 2 (binary, non-zero = foreground) or the class count of class-id masks.
        strict: refuse files without a partner instead of leaving them out.
        thresholds: instance mode: IoU thresholds counted besides the DSB ones (``ap<t>`` columns).
        empty: score of an image empty in both (see docs/metrics.md); NaN leaves such images out of the means.

    Raises:
        UnetzooError: a missing path, no pair, unpaired files with ``strict``, a non-integer or multi-channel
            label image, or a pair of two sizes (one line naming the file).
    """
    if classes < 2:
        raise UnetzooError(f"--classes {classes}: give the class count including background (>= 2)", exit_code=2)
    found = _pairs(Path(pred), Path(gt), instances, strict)
    rows: list[dict[str, Any]] = []
    counts: list[InstanceCounts] = []
    semantic = SegmentationMetrics("binary" if classes == 2 else "multiclass", classes, empty=empty)
    for key, pred_path, gt_path in found.pairs:
        p, g = _read(pred_path, instances, classes), _read(gt_path, instances, classes)
        _same_size(p, g, pred_path, gt_path)
        row: dict[str, Any] = {"id": key, "pred": str(pred_path), "gt": str(gt_path)}
        if instances:
            counts.append(instance_counts(components(p) if connected_components else p, g, thresholds))
            row.update(counts[-1].scores(empty))
        else:
            pair = _class_ids(p, classes, pred_path), _class_ids(g, classes, gt_path)
            row.update(semantic.update(pair[0][None], pair[1][None])[0])
        rows.append(row)
    aggregate = aggregate_instances(counts, empty) if instances else semantic.compute()
    result = ScoreResult(aggregate, rows, found.unpaired_pred, found.unpaired_gt)
    crowded = [r for r in rows if r.get("n_true", 0) > 1]
    if instances and not connected_components and crowded and all(r["n_pred"] <= 1 for r in crowded):
        result.hints.append(
            "every prediction holds at most one object: binary masks? pass --connected-components to split them"
        )
    return result
