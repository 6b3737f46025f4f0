"""Volumes through a 2D model: predict every slice, stack the slices back, score the whole case.

Used by validation during training, ``unetzoo eval`` and ``unetzoo predict`` on volume data, with the
:class:`~unetzoo.volumes.slices.SliceOptions` the model was trained with (recorded in its checkpoint as
``volume``): the same axis, normalisation and centre crop (outside the crop is background).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unetzoo.engine.evaluate import EvalResult, aggregate
from unetzoo.engine.inference import Segmenter
from unetzoo.metrics.volume import volume_scores
from unetzoo.volumes.slices import SliceOptions, VolumeSlices, centre_crop, uncrop


def predict_slices(
    segmenter: Segmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Label map ``(z, y, x)`` int64 of a prepared (normalised) ``(C, z, y, x)`` volume, slice by slice."""
    planes = np.moveaxis(image, 1 + options.dim, 1)  # (C, n, h, w)
    labels = []
    for k in range(planes.shape[1]):
        plane = np.ascontiguousarray(centre_crop(planes[:, k], options.crop).transpose(1, 2, 0))
        labels.append(segmenter.predict(plane, f"{source}:{options.axis}{k:03d}"))
    stacked = uncrop(np.stack(labels), options.crop, planes.shape[2:])
    return np.moveaxis(stacked, 0, options.dim)


def predict_volume(
    segmenter: Segmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Label map ``(z, y, x)`` of a raw ``(C, z, y, x)`` volume: normalised as in training, then sliced."""
    return predict_slices(segmenter, options, options.prepare(image), source)


def evaluate_volumes(segmenter: Segmenter, source: VolumeSlices, cases: Sequence[str]) -> EvalResult:
    """One row per case: volume-level scores (:func:`unetzoo.metrics.volume.volume_scores`, HD95 in mm) of
    its slices' predictions stacked back, against its full (uncropped) label."""
    rows = []
    for case in cases:
        loaded = source.load_case(case)
        assert loaded.label is not None
        pred = predict_slices(segmenter, source.options, loaded.image, f"{source.spec}[{case}]")
        spacing = tuple(reversed(loaded.geometry.spacing))  # ITK (x, y, z) -> the array's (z, y, x)
        scores = volume_scores(
            pred, loaded.label, spacing=spacing, class_names=source.class_names, regions=segmenter.regions
        )
        rows.append({"id": case, **scores})
    return EvalResult(aggregate(rows), rows)
