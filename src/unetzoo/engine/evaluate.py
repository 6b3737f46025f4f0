"""Evaluation: every metric per image and in aggregate, on a split of a dataset."""

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
import torch

from unetzoo.data import open_source
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.sliding_window import probabilities
from unetzoo.errors import UnetzooError
from unetzoo.layers.cgm import Guidance
from unetzoo.metrics import compute_all
from unetzoo.utils.atomic import atomic_write_text
from unetzoo.utils.resample import resize_labels


@dataclass
class EvalResult:
    """Aggregate metrics (mean over images, NaN-aware) and the per-image rows."""

    aggregate: dict[str, float]
    per_image: list[dict[str, Any]] = field(default_factory=list)
    unit: str = "images"  # what a row is: an image, or a case (a volume scored whole)

    def to_json(self) -> str:
        return json.dumps({**self.aggregate, "n_images": len(self.per_image)}, indent=2, allow_nan=False, default=str)

    def write_csv(self, path: str | os.PathLike[str]) -> Path:
        buffer = io.StringIO()
        if self.per_image:
            writer = csv.DictWriter(buffer, fieldnames=list(self.per_image[0]))
            writer.writeheader()
            writer.writerows(self.per_image)
        return atomic_write_text(path, buffer.getvalue())


def aggregate(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of every numeric key over rows, ignoring NaN/inf (e.g. HD95 of an empty mask); None if all are."""
    keys = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)] if rows else []
    out: dict[str, float] = {}
    for k in keys:
        vals = [float(r[k]) for r in rows if r.get(k) is not None and math.isfinite(float(r[k]))]
        out[k] = float(np.mean(vals)) if vals else None  # type: ignore[assignment]
    return out


def evaluate_images(
    segmenter: Segmenter,
    source: Any,
    indices: list[int],
    *,
    em: bool = False,
    loss_fn: torch.nn.Module | None = None,
) -> EvalResult:
    """Metrics for ``source`` samples ``indices``, at the original image size; with ``loss_fn`` also the mean
    loss of a whole-image pass at the working scale (against the mask resampled as training resamples it)."""
    num_classes = max(2, segmenter.model.classes)
    rows: list[dict[str, Any]] = []
    model = segmenter.model
    guided = _guidance(model) is not None  # a model with a classification-guided module: report its accuracy
    for i in indices:
        image, mask = source.load(i)
        row: dict[str, Any] = {"id": source.ids[i]}
        if loss_fn is not None:
            x = segmenter.network_input(image, source.image_path(i) or source.ids[i])
            target = resize_labels(mask, tuple(x.shape[1:]), num_classes)
            with torch.inference_mode():
                logits = model(x[None])
                row["loss"] = float(loss_fn(logits, torch.from_numpy(target)[None]))
                probs = segmenter.to_original(probabilities(logits)[0], mask.shape)
        else:
            probs = segmenter.probabilities(image, source=source.image_path(i) or source.ids[i])
        pred = segmenter.labels(probs).numpy()
        row.update(compute_all(pred, mask, num_classes=num_classes, em=em))
        if guided:
            row["cgm_accuracy"] = cgm_agrees(segmenter, image, mask)
        rows.append(row)
    return EvalResult(aggregate(rows), rows)


def _guidance(model: torch.nn.Module) -> Guidance | None:
    guidance = getattr(getattr(model, "inner", model), "cgm", None)  # inner: a model wrapped by OnDevice
    return guidance if isinstance(guidance, Guidance) else None


def cgm_agrees(segmenter: Segmenter, image: np.ndarray, mask: np.ndarray) -> float:
    """1.0 if the model's classification-guided module (UNet 3+ / UNet# Sec. 2.3) says what ``mask`` says (some
    object, or none), else 0.0; one whole-image forward. Its mean over images is ``cgm_accuracy``."""
    guidance = _guidance(segmenter.model)
    assert guidance is not None, "cgm_agrees needs a model with a classification-guided module"
    x = segmenter.network_input(image)[None]  # at the run's working scale, as every other forward
    with torch.inference_mode():
        segmenter.model(x)
    scores = guidance.final_scores()
    assert scores is not None
    return float(bool(scores[0].argmax() == 1) == bool((mask > 0).any()))


def evaluate(
    checkpoint: str | os.PathLike[str],
    data: str | None = None,
    *,
    split: str = "val",
    threshold: float | None = None,
    tta: bool = False,
    em: bool | None = None,
    tile: tuple[int, int] | None = None,
    instances: bool = False,
    **data_options: Any,
) -> EvalResult:
    """Evaluate a checkpoint on ``data`` (default: the data it was trained on) and one of its splits.

    ``split`` is ``val``/``test`` (the ids recorded in the checkpoint's run) or ``all``. ``instances`` (always
    on for a checkpoint trained with ``--task instances``) scores objects against the data's instance labels
    as well (:func:`unetzoo.engine.instances.evaluate_instances`; a semantic model's objects are the
    connected components of its mask).
    """
    from unetzoo.engine.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    config = payload.get("config", {})
    data = data or config.get("data")
    options = {k: config.get(k) for k in ("positive", "invert_mask")} | {"fmt": config.get("data_format")}
    options.update({k: v for k, v in data_options.items() if v is not None})
    volume = payload.get("volume")
    if volume is not None:  # slices cut as in training; scored per case (the split holds case ids)
        from unetzoo.volumes.slices import SliceOptions

        options["slices"] = SliceOptions.from_dict(volume)
    source = open_source(data, **options)
    ids = source.cases if volume is not None else source.ids  # type: ignore[attr-defined]
    if split == "all":
        wanted = list(ids)
    elif split in ("train", "val", "test"):
        wanted = (payload.get("split") or {}).get(split, [])
        known = set(ids)
        missing = [s for s in wanted if s not in known]
        if missing:
            raise UnetzooError(
                f"{data}: sample {missing[0]!r} of the run's {split} split is not in this data; "
                "pass the data the model was trained on, or --split all"
            )
    else:
        raise UnetzooError(f"--split {split!r}: choose val, test, train or all", exit_code=2)
    if volume is not None and wanted:
        from unetzoo.engine.volumes import evaluate_volumes

        segmenter = Segmenter.from_checkpoint(checkpoint, threshold=threshold, tta=tta, tile=tile)
        return evaluate_volumes(segmenter, source, wanted)  # type: ignore[arg-type]
    index = {sid: i for i, sid in enumerate(source.ids)}
    indices = [index[s] for s in wanted]
    if not indices:
        raise UnetzooError(f"{checkpoint}: the run has no {split!r} images in {data}; use --split all or val")
    if instances or payload.get("instances"):
        from unetzoo.engine.instances import evaluate_instances
        from unetzoo.instances.segmenter import InstanceSegmenter

        objects = InstanceSegmenter.from_checkpoint(checkpoint, threshold=threshold, tta=tta, tile=tile)
        return evaluate_instances(objects, source, indices)
    segmenter = Segmenter.from_checkpoint(checkpoint, threshold=threshold, tta=tta, tile=tile)
    em = bool(config.get("em", False)) if em is None else em
    return evaluate_images(segmenter, source, indices, em=em)
