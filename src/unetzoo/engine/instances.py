"""Instance evaluation, and choosing a checkpoint's post-processing (:class:`InstanceSegmenter` predicts).

An instance checkpoint (``unetzoo train --task instances``) stores its head and the post-processing chosen on
its validation split (:func:`tune_checkpoint`); a semantic checkpoint is split into connected components of its
foreground, the baseline every instance head must beat (touching objects merge).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from unetzoo.data.instances import require_instances
from unetzoo.engine.checkpoint import load_checkpoint, save_checkpoint
from unetzoo.engine.evaluate import EvalResult, aggregate
from unetzoo.engine.sliding_window import probabilities
from unetzoo.instances.decode import Decoding
from unetzoo.instances.segmenter import InstanceSegmenter
from unetzoo.instances.tune import tune_zooms
from unetzoo.metrics import compute_all
from unetzoo.metrics.instances import aggregate_instances, instance_counts
from unetzoo.utils.resample import resize_labels


def evaluate_instances(
    model: InstanceSegmenter, source: Any, indices: list[int], *, loss_fn: torch.nn.Module | None = None
) -> EvalResult:
    """Per image: the semantic scores of the foreground, the instance scores (``map``, ``ap50``, ``f1_50``,
    ``aji``, counts), and with ``loss_fn`` the loss of a whole-image pass against the head's target at the
    working scale. The aggregate is the semantic means plus :func:`aggregate_instances`."""
    rows: list[dict[str, Any]] = []
    semantic: list[dict[str, Any]] = []
    counts = []
    segmenter = model.segmenter
    for i in indices:
        image, mask = source.load(i)
        truth = require_instances(source, i)
        where = source.image_path(i) or source.ids[i]
        row: dict[str, Any] = {"id": source.ids[i]}
        if loss_fn is not None and model.head is not None:
            x = segmenter.network_input(image, where)
            target = resize_labels(model.head.encode(truth), tuple(x.shape[1:]), model.head.classes)
            with torch.inference_mode():
                logits = segmenter.model(x[None])
                row["loss"] = float(loss_fn(logits, torch.from_numpy(target.astype(np.int64))[None]))
                probs = segmenter.to_original(probabilities(logits)[0], mask.shape).numpy()
        else:
            probs = model.probabilities(image, where)
        row.update(compute_all(model.foreground(probs), (mask > 0).astype(np.int64)))
        semantic.append(dict(row))
        counts.append(instance_counts(model.decode(probs), truth))
        rows.append({**row, **counts[-1].scores()})
    return EvalResult({**aggregate(semantic), **aggregate_instances(counts)}, rows)


def tune_checkpoint(path: str | os.PathLike[str], source: Any, indices: list[int]) -> dict[str, Any]:
    """Choose the checkpoint's post-processing on images ``indices`` and store it in the checkpoint (atomically);
    the images are decoded by as many processes as torch has threads (the network is idle meanwhile).

    Returns the stored record: ``head``, ``decoding``, ``val_map`` (the map it reached) and ``seconds``.
    """
    start = time.perf_counter()
    payload = load_checkpoint(path)
    model = InstanceSegmenter.from_checkpoint(path)
    truths = [require_instances(source, i) for i in indices]
    images = [(source.load(i)[0], source.image_path(i) or source.ids[i]) for i in indices]  # read once, not per zoom

    def probs_at(zoom: float) -> list[np.ndarray]:
        view = replace(model, decoding=Decoding(zoom=zoom))
        return [view.probabilities(image, where) for image, where in images]

    decoding, value = tune_zooms(model.decode, probs_at, truths, workers=torch.get_num_threads())
    record = {
        **(payload.get("instances") or {}),
        "decoding": decoding.to_dict(),
        "val_map": value,
        "seconds": round(time.perf_counter() - start, 2),
    }
    save_checkpoint(path, {**payload, "instances": record})
    return record
