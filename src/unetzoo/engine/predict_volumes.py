"""``unetzoo predict`` on volumes: each case's label map, and optionally its probabilities and a montage.

Outputs of a case (:mod:`unetzoo.volumes.predict_files` names the cases), all with the input's geometry and,
for volumes, its header (``write_volume(like=channel 0)``), in the input's format:

* ``{case}{ending}``: the label map (uint8 class ids; a region-based model's regions painted back to ids);
* ``--save-prob``: float32 probabilities, one 3D volume per network output beside it --
  ``{case}_prob{ending}`` (the foreground of a binary model), else ``{case}_prob_{name}{ending}`` per class
  but the background (softmax: background is 1 minus their sum) or per region (sigmoid outputs). One 3D file
  per output, not a 4D file, so that every viewer and ``read_volume`` opens it with its geometry;
* ``--overlay``: ``{case}_overlay.png``, a montage of slices with the labels in colour
  (:mod:`unetzoo.volumes.overlay`).

A DICOM series (a folder) is written as NIfTI, ``{folder}.nii.gz``; its record says so. Safety as the 2D
predict: every planned output is checked before anything is written (an existing one is refused without
``overwrite``; replacing an input always), and every input is read and checked (readable, 3D, channels on one
grid) before the first output is written, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.io import write_image
from unetzoo.engine.volumes import SliceSegmenter, labels_from_probabilities, slice_probabilities
from unetzoo.errors import UnetzooError
from unetzoo.volumes.io import Volume, check_same_grid, read_volume, write_volume
from unetzoo.volumes.overlay import overlay_montage
from unetzoo.volumes.predict_files import VolumeInput, collect_volume_inputs
from unetzoo.volumes.slices import SliceOptions


def output_names(segmenter: SliceSegmenter) -> list[str | None]:
    """Per network output, the suffix of its probability file: ``""`` for a binary model's foreground, the
    region or class name otherwise, None for the softmax background (not written)."""
    if segmenter.regions is not None:
        return list(segmenter.regions.names)
    if segmenter.classes == 1:
        return [""]
    return [None, *segmenter.class_names[1 : segmenter.classes]]


def planned_outputs(
    case: VolumeInput, out: Path, names: list[str | None], save_prob: bool, overlay: bool
) -> dict[str, Path]:
    """Output kind (``mask``, ``prob`` or ``prob_{name}``, ``overlay``) -> path, for one case."""
    outputs = {"mask": out / f"{case.case}{case.ending}"}
    for name in names if save_prob else []:
        if name is not None:
            suffix = f"_prob_{name}" if name else "_prob"
            outputs[suffix[1:]] = out / f"{case.case}{suffix}{case.ending}"
    if overlay:
        outputs["overlay"] = out / f"{case.case}_overlay.png"
    return outputs


def _read_case(case: VolumeInput) -> list[Volume]:
    volumes = [read_volume(p) for p in case.channels]
    check_same_grid(volumes)
    return volumes


def _check_plan(plans: list[dict[str, Path]], cases: list[VolumeInput], overwrite: bool, skip: bool) -> list[bool]:
    """Refuse outputs that replace an input or exist (unless ``overwrite``/``skip``); per case: is it to do?"""
    inputs = {p.resolve() for c in cases for p in c.channels}
    todo = []
    for plan in plans:
        for target in plan.values():
            if target.resolve() in inputs:
                raise UnetzooError(f"{target}: would replace an input; choose another --out")
        existing = [p for p in plan.values() if p.exists()]
        if skip and len(existing) == len(plan):
            todo.append(False)
            continue
        if existing and not overwrite:
            raise UnetzooError(f"{existing[0]}: exists; pass --overwrite to replace it or --skip-existing to keep it")
        todo.append(True)
    return todo


def predict_volume_files(
    segmenter: SliceSegmenter,
    options: SliceOptions,
    inputs: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    save_prob: bool = False,
    overlay: bool = False,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> list[dict[str, Any]]:
    """Segment the cases named by ``inputs`` into ``out`` (see the module docstring); one record per case."""
    cases = collect_volume_inputs(inputs, segmenter.in_channels)
    folder = Path(out)
    names = output_names(segmenter)
    plans = [planned_outputs(c, folder, names, save_prob, overlay) for c in cases]
    todo = _check_plan(plans, cases, overwrite, skip_existing)
    for case, wanted in zip(cases, todo, strict=True):
        if wanted:
            _read_case(case)  # every input readable and consistent before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for case, plan, wanted in zip(cases, plans, todo, strict=True):
        if wanted:
            records.append(_predict_case(segmenter, options, case, plan, names))
    return records


def _predict_case(
    segmenter: SliceSegmenter, options: SliceOptions, case: VolumeInput, plan: dict[str, Path], names: list[str | None]
) -> dict[str, Any]:
    volumes = _read_case(case)
    image = np.stack([v.array for v in volumes])
    source = str(case.channels[0])
    probs = slice_probabilities(segmenter, options, options.prepare(image), source)
    labels = labels_from_probabilities(probs, segmenter.threshold, segmenter.regions)
    like = volumes[0]
    write_volume(plan["mask"], labels.astype(np.uint8), like=like)
    record: dict[str, Any] = {"input": source, "mask": str(plan["mask"])}
    for channel, name in zip(probs, names, strict=True):
        key = f"prob_{name}" if name else "prob"
        if key in plan:
            write_volume(plan[key], np.ascontiguousarray(channel, dtype=np.float32), like=like)
            record.setdefault("prob", []).append(str(plan[key]))
    if "overlay" in plan:
        montage, shown = overlay_montage(image[0], labels, options.dim)
        write_image(plan["overlay"], montage)
        record.update(overlay=str(plan["overlay"]), overlay_slices=shown)
    record["foreground_fraction"] = float((labels > 0).mean())
    record["voxels"] = {name: int((labels == c).sum()) for c, name in enumerate(segmenter.class_names) if c}
    if case.dicom:
        record["note"] = "DICOM series in, NIfTI out: unetzoo does not write DICOM"
    return record
