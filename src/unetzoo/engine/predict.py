"""Prediction on new images: files, folders and multi-page TIFF stacks.

Masks are written with the input's name (``<stem>.png``; a stack gives ``<stem>.tif`` with one page per
slice) and the input's size: 0/255 for a binary model, class ids for a multi-class one. Optional outputs:
``<stem>_prob.tif`` (float32 foreground probability, or one page per class) and ``<stem>_overlay.png``.

Objects (``instances``): the mask is a uint16 label image (0 = background, one id per object), with
``<stem>_objects.csv`` (one row per object: :mod:`unetzoo.instances.measure`), optionally ``<stem>_rois.zip``
(ImageJ ROI set) and an overlay of object outlines in distinct colours.

Safety: every planned output is checked before anything is written (an existing output is refused unless
``overwrite``; an output that would replace an input is always refused), and each file is written
atomically, so a prediction that dies half way leaves only whole files; rerun with ``skip_existing``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from unetzoo.data.io import IMAGE_EXTENSIONS, is_2d_tiff, read_image, read_stack_slice, stack_info, write_image
from unetzoo.errors import UnetzooError


class SegmenterLike(Protocol):
    """What prediction needs: the torch :class:`~unetzoo.engine.inference.Segmenter` or the ONNX runtime's."""

    threshold: float

    def probabilities(self, image: np.ndarray, source: str = ...) -> Any: ...


@dataclass(frozen=True)
class PredictInput:
    """One input file; ``slices`` > 1 for a multi-page TIFF stack."""

    path: Path
    slices: int = 1

    @property
    def stem(self) -> str:
        return self.path.stem

    def images(self) -> Iterator[np.ndarray]:
        if self.slices == 1:
            yield read_image(self.path)
        else:
            for i in range(self.slices):
                yield read_stack_slice(self.path, i)


def collect_inputs(inputs: list[str | os.PathLike[str]]) -> list[PredictInput]:
    """Expand files and folders (non-recursive) into inputs; TIFFs with several pages become stacks, except an
    image whose pages are its channels (an ImageJ ``CYX`` hyperstack), which is read as the data layer reads it."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.is_file():
            found.append(p)
        else:
            raise UnetzooError(f"{p}: no such file or folder; pass image files, folders or TIFF stacks")
    if not found:
        raise UnetzooError(f"no images found in {', '.join(map(str, inputs))}; supported: {sorted(IMAGE_EXTENSIONS)}")
    result = []
    for f in found:
        slices = stack_info(f)[0] if f.suffix.lower() in (".tif", ".tiff") and not is_2d_tiff(f) else 1
        result.append(PredictInput(f, slices))
    return result


def labels_from_probabilities(probs: np.ndarray, threshold: float) -> np.ndarray:
    """(K, H, W) probabilities -> (H, W) labels: threshold for K == 1, argmax otherwise."""
    if probs.shape[0] == 1:
        return (probs[0] >= threshold).astype(np.uint8)
    return probs.argmax(axis=0).astype(np.uint8)


def _mask_image(labels: np.ndarray, binary: bool) -> np.ndarray:
    return labels * 255 if binary else labels


@dataclass(frozen=True)
class PredictOptions:
    save_prob: bool = False
    overlay: bool = False
    overwrite: bool = False
    skip_existing: bool = False
    instances: bool = False
    rois: bool = False


def planned_outputs(item: PredictInput, out: Path, options: PredictOptions) -> dict[str, Path]:
    ext = ".tif" if item.slices > 1 else ".png"
    outputs = {"mask": out / f"{item.stem}{ext}"}
    if options.save_prob:
        outputs["prob"] = out / f"{item.stem}_prob.tif"
    if options.overlay:
        outputs["overlay"] = out / f"{item.stem}_overlay{ext}"
    if options.instances:
        outputs["objects"] = out / f"{item.stem}_objects.csv"
    if options.rois:
        outputs["rois"] = out / f"{item.stem}_rois.zip"
    return outputs


def _check_plan(items: list[PredictInput], out: Path, options: PredictOptions) -> list[PredictInput]:
    """Refuse collisions before writing anything; drop finished items when ``skip_existing``."""
    inputs = {i.path.resolve() for i in items}
    seen: dict[Path, Path] = {}
    todo = []
    for item in items:
        outputs = planned_outputs(item, out, options)
        for path in outputs.values():
            resolved = path.resolve()
            if resolved in inputs:
                raise UnetzooError(f"{path}: would overwrite an input image; choose another --out folder")
            if resolved in seen:
                raise UnetzooError(
                    f"{item.path} and {seen[resolved]} would both write {path}; rename one or predict them apart"
                )
            seen[resolved] = item.path
        if options.skip_existing and all(p.exists() for p in outputs.values()):
            continue
        existing = [p for p in outputs.values() if p.exists()]
        if existing and not options.overwrite:
            raise UnetzooError(
                f"{existing[0]}: already exists; pass --overwrite to replace it or --skip-existing to keep it"
            )
        todo.append(item)
    return todo


class ObjectsLike(Protocol):
    """What object output needs besides probabilities: an ``InstanceSegmenter`` (``head`` None: a semantic
    model, whose objects are connected components)."""

    head: Any

    def probabilities(self, image: np.ndarray, source: str = ...) -> np.ndarray: ...

    def decode(self, probs: np.ndarray) -> np.ndarray: ...

    def foreground(self, probs: np.ndarray) -> np.ndarray: ...


class SizerLike(Protocol):
    """Runs the model at the scale of each image's objects: an ``unetzoo.instances.scale.ObjectSizer``."""

    def run(self, image: np.ndarray, source: str = ...) -> Any: ...


def _object_labels(labels: np.ndarray, where: str) -> np.ndarray:
    if labels.max(initial=0) > np.iinfo(np.uint16).max:
        raise UnetzooError(f"{where}: {labels.max()} objects do not fit a uint16 label image; split the image")
    return labels.astype(np.uint16)


def predict_paths(
    segmenter: SegmenterLike,
    inputs: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    options: PredictOptions | None = None,
    objects: ObjectsLike | None = None,
    sizer: SizerLike | None = None,
) -> list[dict[str, Any]]:
    """Segment every input and write the outputs; returns one record per written input.

    ``objects`` turns probabilities into object labels (``options.instances``); for an instance model it also
    gives the binary mask (its foreground). ``sizer`` runs each image at the scale of its objects (the record
    then carries the object size and scale factor).
    """
    from unetzoo.instances.measure import object_table, outline_overlay, write_rois, write_table
    from unetzoo.report.plots import overlay

    options = options or PredictOptions()
    if (options.instances or options.rois) and objects is None:
        raise UnetzooError("instance prediction needs the model's object decoder; pass --instances", exit_code=2)
    out = Path(out)
    items = _check_plan(collect_inputs(inputs), out, options)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnetzooError(f"{out}: cannot create the output folder ({exc.strerror}); choose a writable --out") from exc
    records = []
    for item in items:
        masks, probs_all, overlays, rows, sizes = [], [], [], [], []
        for k, image in enumerate(item.images()):
            source = f"{item.path}" + (f" slice {k}" if item.slices > 1 else "")
            decoder = objects
            if sizer is not None:
                sized = sizer.run(image, source)
                probs, decoder = sized.probs, sized.objects
                sizes.append(sized.record())
            else:
                probs = np.asarray((objects or segmenter).probabilities(image, source), dtype=np.float32)
            binary = probs.shape[0] == 1
            if options.save_prob:
                probs_all.append(probs[0] if binary else probs)
            if options.instances:
                assert decoder is not None
                labels = _object_labels(decoder.decode(probs), source)
                masks.append(labels)
                rows += object_table(labels, image, k if item.slices > 1 else None)
                if options.overlay:
                    overlays.append(outline_overlay(image, labels))
                continue
            if decoder is not None and decoder.head is not None:  # an instance model's mask: its foreground
                labels, binary = decoder.foreground(probs).astype(np.uint8), True
            else:
                labels = labels_from_probabilities(probs, segmenter.threshold)
            masks.append(_mask_image(labels, binary))
            if options.overlay:
                overlays.append(overlay(image, labels, (230, 0, 200)))
        outputs = planned_outputs(item, out, options)
        write_image(outputs["mask"], np.stack(masks) if item.slices > 1 else masks[0])
        if options.save_prob:
            write_image(outputs["prob"], np.stack(probs_all) if item.slices > 1 else probs_all[0])
        if options.overlay:
            write_image(outputs["overlay"], np.stack(overlays) if item.slices > 1 else overlays[0])
        fg = float(np.mean([(m > 0).mean() for m in masks]))
        record = {"input": str(item.path), "mask": str(outputs["mask"]), "foreground_fraction": fg}
        if sizes:
            record.update(sizes[0] if len(sizes) == 1 else {"slices": sizes})
        if options.instances:
            write_table(outputs["objects"], rows)
            record.update(objects=len(rows), table=str(outputs["objects"]))
        if options.rois:
            write_rois(outputs["rois"], masks)
            record["rois"] = str(outputs["rois"])
        records.append(record)
    return records
