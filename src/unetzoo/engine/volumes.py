"""Volumes through a 2D model: predict every slice, stack the slices back, score the whole case.

Used by validation during training, ``unetzoo eval`` and ``unetzoo predict`` on volume data
(:mod:`unetzoo.engine.predict_volumes`), with the :class:`~unetzoo.volumes.slices.SliceOptions` the model was
trained with (recorded in its checkpoint or model card as ``volume``): the same axis, normalisation and centre
crop (outside the crop is background).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from unetzoo.data.regions import Regions
from unetzoo.engine.evaluate import EvalResult, aggregate
from unetzoo.engine.inference import Segmenter
from unetzoo.metrics.volume import volume_scores
from unetzoo.volumes.slices import SliceOptions, VolumeSlices, centre_crop, uncrop


class SliceSegmenter(Protocol):
    """What volume prediction needs: the torch :class:`Segmenter` or the ONNX runtime's ``OnnxSegmenter``."""

    threshold: float
    regions: Regions | None
    class_names: tuple[str, ...]

    @property
    def in_channels(self) -> int: ...

    @property
    def classes(self) -> int: ...

    def probabilities_many(self, images: Any, source: str = ...) -> np.ndarray: ...


def predict_slices(
    segmenter: Segmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Label map ``(z, y, x)`` int64 of a prepared (normalised) ``(C, z, y, x)`` volume, slice by slice."""
    planes = np.moveaxis(image, 1 + options.dim, 1)  # (C, n, h, w)
    cropped = centre_crop(planes, options.crop).transpose(1, 2, 3, 0)  # (n, H, W, C)
    labels = segmenter.predict_many([np.ascontiguousarray(p) for p in cropped], source)
    stacked = uncrop(labels, options.crop, planes.shape[2:])
    return np.moveaxis(stacked, 0, options.dim)


def slice_probabilities(
    segmenter: SliceSegmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Probabilities ``(K, z, y, x)`` float32 of a prepared (normalised) ``(C, z, y, x)`` volume, slice by slice.
    Outside the crop a voxel is background: probability 1 of class 0 for a softmax model, 0 for sigmoid outputs
    (binary or regions)."""
    planes = np.moveaxis(image, 1 + options.dim, 1)  # (C, n, h, w)
    cropped = centre_crop(planes, options.crop).transpose(1, 2, 3, 0)  # (n, H, W, C)
    probs = segmenter.probabilities_many([np.ascontiguousarray(p) for p in cropped], source)  # (n, K, H, W)
    stacked = uncrop(probs.transpose(1, 0, 2, 3), options.crop, planes.shape[2:])  # (K, n, h, w)
    if options.crop is not None and stacked.shape[0] > 1 and segmenter.regions is None:
        inside = uncrop(np.ones(probs.shape[2:], dtype=bool), options.crop, planes.shape[2:])
        stacked[0, :, ~inside] = 1.0
    return np.moveaxis(stacked, 1, 1 + options.dim)


def labels_from_probabilities(probs: np.ndarray, threshold: float, regions: Regions | None = None) -> np.ndarray:
    """Label map ``(...)`` int64 of probabilities ``(K, ...)``, as the segmenters decide per image: regions
    painted in ``regions_class_order``, the threshold for one output, else the argmax."""
    if regions is not None:
        return regions.to_labels(probs, threshold)
    if probs.shape[0] == 1:
        return (probs[0] >= threshold).astype(np.int64)
    return probs.argmax(axis=0)


def evaluate_volumes(segmenter: Segmenter, source: VolumeSlices, cases: Sequence[str]) -> EvalResult:
    """One row per case: volume-level scores (:func:`unetzoo.metrics.volume.volume_scores`, HD95 in mm) of
    its slices' predictions stacked back, against its full (uncropped) label; scored on the dataset's regions
    when it has them, whether or not the model was trained on regions."""
    rows = [{"id": case, **score_case(segmenter, source, case)[1]} for case in cases]
    return EvalResult(aggregate(rows), rows, unit="cases")


def score_case(segmenter: Segmenter, source: VolumeSlices, case: str) -> tuple[np.ndarray, dict[str, float]]:
    """A labelled case's label map ``(z, y, x)`` (its slices' predictions stacked back) and its volume-level
    scores against its full label (see :func:`evaluate_volumes`)."""
    loaded = source.load_case(case)
    assert loaded.label is not None
    pred = predict_slices(segmenter, source.options, loaded.image, f"{source.spec}[{case}]")
    spacing = tuple(reversed(loaded.geometry.spacing))  # ITK (x, y, z) -> the array's (z, y, x)
    scores = volume_scores(pred, loaded.label, spacing=spacing, class_names=source.class_names, regions=source.regions)
    return pred, scores
