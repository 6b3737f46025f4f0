"""The served model: an ONNX export (onnxruntime) or a training checkpoint (torch), with its public model card.

``FILE.onnx`` runs on :class:`unetzoo.deploy.runtime.OnnxSegmenter` and its card ``FILE.onnx.json``; anything else
is read as a checkpoint by :class:`unetzoo.engine.inference.Segmenter`, whose card is built from the checkpoint
payload. Each engine is imported only when its kind of file is served; objects are decoded by the same
:class:`unetzoo.instances.segmenter.InstanceSegmenter` for both.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from unetzoo.instances.segmenter import InstanceSegmenter


class SegmenterLike(Protocol):
    """What serving needs from either engine."""

    threshold: float

    def probabilities(self, image: np.ndarray, source: str = ...) -> Any: ...


@dataclass(frozen=True)
class ServedModel:
    """A loaded segmenter, its card (JSON-safe; no absolute paths) and its object decoder: the instance head
    and post-processing of a ``--task instances`` model, connected components for a semantic one."""

    segmenter: SegmenterLike
    card: dict[str, Any]
    objects: InstanceSegmenter | None = None

    @property
    def instance_model(self) -> bool:
        """Trained to separate objects (``--task instances``)."""
        return bool(self.card.get("instances"))

    @property
    def classes(self) -> int:
        return int(self.card["classes"])

    @property
    def in_channels(self) -> int:
        return int(self.card["in_channels"])

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.card["class_names"])


def json_safe(value: Any) -> Any:
    """Nested dicts/lists of JSON values with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def validation_metrics(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The validation figures of a run (``val_*`` and the epoch they come from)."""
    return {k: v for k, v in (metrics or {}).items() if k == "epoch" or k.startswith("val_")}


def _objects(segmenter: SegmenterLike, record: dict[str, Any] | None) -> InstanceSegmenter:
    from unetzoo.instances.segmenter import InstanceSegmenter

    return InstanceSegmenter.from_record(segmenter, record)


def _refuse_volume_model(record: dict[str, Any], path: Path) -> None:
    """A model trained on volume slices needs each case normalised as a whole (docs/volumes.md): not one 2D image."""
    if record.get("volume") is not None:
        from unetzoo.errors import UnetzooError

        raise UnetzooError(
            f"{path}: was trained on volume slices, normalised per volume; serve takes 2D images: segment "
            "volumes with `unetzoo predict CASE_0000.nii.gz --model ...` instead"
        )


def _onnx(path: Path, options: dict[str, Any]) -> ServedModel:
    from unetzoo.deploy.runtime import OnnxSegmenter

    segmenter = OnnxSegmenter(path, **options)
    card = segmenter.card
    _refuse_volume_model(card, path)
    public = {
        "model": card["model"],
        "preset": card.get("preset"),
        "engine": "onnxruntime",
        "file": path.name,
        "params": card.get("params"),
        "gmacs": card.get("gmacs"),
        "classes": card["classes"],
        "class_names": list(card["class_names"]),
        "in_channels": card["in_channels"],
        "threshold": segmenter.threshold,
        "input_multiple": card.get("input_multiple"),
        "preprocess": card["preprocess"],
        "metrics": validation_metrics(card.get("metrics")),
        "int8": card.get("int8") is not None,
        "sha256": card["sha256"],
        "unetzoo_version": card.get("unetzoo_version"),
        "instances": card.get("instances"),
    }
    return ServedModel(segmenter, json_safe(public), _objects(segmenter, card.get("instances")))


def _checkpoint(path: Path, options: dict[str, Any]) -> ServedModel:
    from unetzoo import __version__, count_params
    from unetzoo.engine.checkpoint import load_checkpoint
    from unetzoo.engine.inference import Segmenter

    payload = load_checkpoint(path)
    _refuse_volume_model(payload, path)
    segmenter = Segmenter.from_checkpoint(path, **options)
    model = segmenter.model
    public = {
        "model": payload["model"]["name"],
        "preset": payload["model"].get("preset"),
        "engine": "torch",
        "file": path.name,
        "params": count_params(model),
        "gmacs": None,
        "classes": model.classes,
        "class_names": list(segmenter.class_names),
        "in_channels": model.in_channels,
        "threshold": segmenter.threshold,
        "input_multiple": model.input_multiple,
        "preprocess": payload.get("preprocess"),
        "metrics": validation_metrics(payload.get("metrics")),
        "int8": False,
        "sha256": None,
        "unetzoo_version": __version__,
        "instances": payload.get("instances"),
    }
    return ServedModel(segmenter, json_safe(public), _objects(segmenter, payload.get("instances")))


def load_model(
    path: str | os.PathLike[str],
    *,
    threshold: float | None = None,
    tta: bool = False,
    tile: int | None = None,
    overlap: float = 0.25,
) -> ServedModel:
    """Load a pretrained model by name (its ONNX export), ``FILE.onnx`` (with its card) or a
    ``last.pt``/``best.pt`` checkpoint for serving.

    Raises:
        UnetzooError: missing, unreadable, foreign or tampered files (one line, from the engine that reads them).
    """
    from unetzoo.pretrained import get, pretrained_name

    options: dict[str, Any] = {"threshold": threshold, "tta": tta, "tile": (tile, tile) if tile else None}
    options["overlap"] = overlap
    name = pretrained_name(str(path))
    if name:  # the ONNX export, and the card's pretrained section (data, licence, scores, intended inputs)
        entry = get(name)
        served = _onnx(entry.onnx_path(), options)
        card = {**served.card, "pretrained": json_safe({k: v for k, v in entry.row().items() if k != "recipe"})}
        return replace(served, card=card)
    path = Path(path)
    return _onnx(path, options) if path.suffix.lower() == ".onnx" else _checkpoint(path, options)
