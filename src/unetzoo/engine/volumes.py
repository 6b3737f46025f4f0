"""Volumes through a 2D model: predict every slice, stack the slices back, score the whole case.

Used by validation during training, ``unetzoo eval`` and ``unetzoo predict`` on volume data, with the
:class:`~unetzoo.volumes.slices.SliceOptions` the model was trained with (recorded in its checkpoint as
``volume``): the same axis, normalisation and centre crop (outside the crop is background).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.engine.evaluate import EvalResult, aggregate
from unetzoo.engine.inference import Segmenter
from unetzoo.errors import UnetzooError
from unetzoo.metrics.volume import volume_scores
from unetzoo.volumes.io import read_volume, write_volume
from unetzoo.volumes.predict_files import collect_volume_inputs
from unetzoo.volumes.slices import SliceOptions, VolumeSlices, centre_crop, uncrop


def predict_slices(
    segmenter: Segmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Label map ``(z, y, x)`` int64 of a prepared (normalised) ``(C, z, y, x)`` volume, slice by slice."""
    planes = np.moveaxis(image, 1 + options.dim, 1)  # (C, n, h, w)
    cropped = centre_crop(planes, options.crop).transpose(1, 2, 3, 0)  # (n, H, W, C)
    labels = segmenter.predict_many([np.ascontiguousarray(p) for p in cropped], source)
    stacked = uncrop(labels, options.crop, planes.shape[2:])
    return np.moveaxis(stacked, 0, options.dim)


def predict_volume(
    segmenter: Segmenter, options: SliceOptions, image: np.ndarray, source: str = "volume"
) -> np.ndarray:
    """Label map ``(z, y, x)`` of a raw ``(C, z, y, x)`` volume: normalised as in training, then sliced."""
    return predict_slices(segmenter, options, options.prepare(image), source)


def evaluate_volumes(segmenter: Segmenter, source: VolumeSlices, cases: Sequence[str]) -> EvalResult:
    """One row per case: volume-level scores (:func:`unetzoo.metrics.volume.volume_scores`, HD95 in mm) of
    its slices' predictions stacked back, against its full (uncropped) label; scored on the dataset's regions
    when it has them, whether or not the model was trained on regions."""
    rows = []
    for case in cases:
        loaded = source.load_case(case)
        assert loaded.label is not None
        pred = predict_slices(segmenter, source.options, loaded.image, f"{source.spec}[{case}]")
        spacing = tuple(reversed(loaded.geometry.spacing))  # ITK (x, y, z) -> the array's (z, y, x)
        scores = volume_scores(
            pred, loaded.label, spacing=spacing, class_names=source.class_names, regions=source.regions
        )
        rows.append({"id": case, **scores})
    return EvalResult(aggregate(rows), rows, unit="cases")


def predict_volume_files(
    segmenter: Segmenter,
    options: SliceOptions,
    inputs: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> list[dict[str, Any]]:
    """Segment the cases named by ``inputs`` (:mod:`unetzoo.volumes.predict_files`) into ``out/{case}{ending}``,
    each with its input's geometry; every output is checked before anything is written. One record per case."""
    cases = collect_volume_inputs(inputs, segmenter.in_channels)
    folder = Path(out)
    targets = [folder / f"{c.case}{c.ending}" for c in cases]
    inputs_set = {p.resolve() for c in cases for p in c.channels}
    for target in targets:
        if target.resolve() in inputs_set:
            raise UnetzooError(f"{target}: would replace an input; choose another --out")
        if target.exists() and not (overwrite or skip_existing):
            raise UnetzooError(f"{target}: exists; pass --overwrite to replace it or --skip-existing to keep it")
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for case, target in zip(cases, targets, strict=True):
        if target.exists() and skip_existing:
            continue
        volumes = [read_volume(p) for p in case.channels]
        image = np.stack([v.array for v in volumes])
        labels = predict_volume(segmenter, options, image, str(case.channels[0]))
        write_volume(target, labels.astype(np.uint8), like=volumes[0])
        records.append(
            {
                "input": str(case.channels[0]),
                "mask": str(target),
                "foreground_fraction": float((labels > 0).mean()),
                "voxels": {name: int((labels == c).sum()) for c, name in enumerate(segmenter.class_names) if c},
            }
        )
    return records
