"""Package a trained checkpoint as a pretrained model: strip, export, hash, register.

``scripts/train_pretrained.py`` trains the shipped models and calls :func:`package`; tests call it on a small
trained model to build a registry of their own. Imports torch (the registry module does not).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.instances import require_instances
from unetzoo.deploy.card import card_path
from unetzoo.deploy.export import export_model
from unetzoo.engine.checkpoint import load_checkpoint, save_checkpoint
from unetzoo.instances.scale import median_diameter, seen_sizes
from unetzoo.pretrained.registry import PretrainedFile, PretrainedModel, read_registry, write_registry
from unetzoo.utils.integrity import digest_path, sha256_file

INFERENCE_KEYS = (
    "model", "state_dict", "config", "class_names", "preprocess", "resampling", "inference", "threshold", "volume",
    "regions", "data_fingerprint", "split", "metrics", "instances", "epoch", "global_step", "elapsed",
)  # fmt: skip
"""What a shipped checkpoint keeps of a training checkpoint (optimizer, scheduler and RNG states go)."""


def median_object_diameter(source: Any, indices: Sequence[int] | None = None) -> float:
    """Median equivalent diameter ``2 sqrt(area / pi)`` (px) of the labelled objects of a source's samples
    ``indices`` (default: all)."""
    indices = range(len(source)) if indices is None else indices
    areas = np.concatenate([np.bincount(require_instances(source, i).ravel())[1:] for i in indices])
    areas = areas[areas > 0]
    return float(2.0 * math.sqrt(float(np.median(areas)) / math.pi))


def seen_object_sizes(source: Any, indices: Sequence[int] | None = None) -> tuple[float, float]:
    """:func:`unetzoo.instances.scale.seen_sizes` of a source's samples ``indices`` (default: all)."""
    indices = range(len(source)) if indices is None else indices
    sizes = [median_diameter(require_instances(source, i)) for i in indices]
    return seen_sizes([d for d in sizes if d is not None])


def package(
    checkpoint: str | os.PathLike[str],
    entry: PretrainedModel,
    folder: str | os.PathLike[str],
    *,
    instances: dict[str, Any] | None = None,
) -> PretrainedModel:
    """Write ``entry.name``'s checkpoint (stripped), ONNX export and card into ``folder`` and register it there.

    Args:
        checkpoint: the trained ``last.pt``/``best.pt``.
        entry: the registry entry; its ``files`` are filled in here.
        folder: the weights folder (its ``registry.json`` keeps its other models).
        instances: the ``instances`` record to ship (head and post-processing), if not the checkpoint's own.

    Returns:
        The registered entry.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = load_checkpoint(checkpoint)
    inference = {k: payload[k] for k in INFERENCE_KEYS if k in payload}
    if instances is not None:
        inference["instances"] = instances
    shipped = save_checkpoint(folder / f"{entry.name}.pt", inference)
    digest_path(shipped).unlink()  # the registry holds the digest
    onnx = export_model(shipped, "onnx", folder / f"{entry.name}.onnx")
    files = {}
    for kind, path in (("checkpoint", shipped), ("onnx", onnx), ("card", card_path(onnx))):
        files[kind] = PretrainedFile(path.name, sha256_file(path), path.stat().st_size)
    entry = replace(entry, files=files)
    models = {**read_registry(folder), entry.name: entry}
    write_registry(sorted(models.values(), key=lambda m: m.name), folder)
    return entry
