"""Checkpoints: atomic save, safe load (``torch.load(weights_only=True)`` only), integrity.

A checkpoint is a plain dict of tensors and Python primitives (no pickled objects), so it loads with
``weights_only=True``; a file carrying code is refused. Its sha256 is recorded in ``<name>.sha256`` beside it
(see :mod:`unetzoo.utils.integrity`) and checked on every load: a modified or swapped file is refused.
Layout (``CHECKPOINT_VERSION`` 1)::

    {"format": "unetzoo-checkpoint", "version": 1,
     "model": {"name", "preset", "kwargs", "in_channels", "classes"},
     "state_dict", "optimizer", "scheduler", "epoch", "global_step", "elapsed",
     "rng": {"torch", "numpy", "python"}, "config", "class_names", "preprocess",
     "data_fingerprint", "split", "metrics", "best_metric"}
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from unetzoo.errors import UnetzooError
from unetzoo.models import SegmentationModel, create_model
from unetzoo.utils.integrity import verify_digest, write_with_digest

CHECKPOINT_FORMAT = "unetzoo-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` and its sha256 record atomically; a crash mid-write keeps the old, verifiable file."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_with_digest(path, buffer.getbuffer())
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a unetzoo checkpoint with ``weights_only=True`` after checking its sha256 record (when present).

    Every failure (missing, tampered, code-carrying, corrupt, foreign, newer format) is a one-line UnetzooError.
    """
    p = Path(path)
    if not p.is_file():
        raise UnetzooError(f"{p}: checkpoint not found; pass the path of a last.pt or best.pt from a run folder")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UnetzooError(f"{p}: cannot read the checkpoint ({exc.strerror}); check its permissions") from exc
    verify_digest(p, data)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # no foreign object referenced: garbage or truncated bytes
            raise UnetzooError(f"{p}: not a readable checkpoint (corrupt); use last.pt/best.pt from a run") from exc
        raise UnetzooError(
            f"{p}: refused: the file holds objects other than tensors and plain data (it could run code); "
            "only load checkpoints written by unetzoo"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UnetzooError(
            f"{p}: not a readable checkpoint (truncated or corrupt: {reason}); "
            "use last.pt/best.pt from a finished run or retrain"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UnetzooError(f"{p}: not a unetzoo checkpoint; pass a last.pt or best.pt written by `unetzoo train`")
    if payload.get("version", 0) > CHECKPOINT_VERSION:
        raise UnetzooError(f"{p}: written by a newer unetzoo (format {payload['version']}); upgrade unetzoo")
    return payload


def model_from_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str] = "checkpoint") -> SegmentationModel:
    """Rebuild the model described in a checkpoint and load its weights (eval mode)."""
    spec = payload["model"]
    model = create_model(
        spec["name"],
        preset=spec.get("preset"),
        in_channels=spec["in_channels"],
        classes=spec["classes"],
        **spec.get("kwargs", {}),
    )
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise UnetzooError(
            f"{path}: weights do not fit model {spec['name']!r} ({str(exc).splitlines()[0]}); "
            "the checkpoint is damaged or from another unetzoo version"
        ) from exc
    return model.eval()
