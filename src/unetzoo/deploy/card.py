"""The model card: the JSON file beside an exported model that tells a runtime everything it needs.

``unetzoo export --out model.onnx`` writes ``model.onnx.json``. The card carries the model's identity
(name, preset, classes, class names, input channels), the preprocessing record of the training run, the
decision threshold, the padding rule of the network (``padding``, see :mod:`unetzoo.deploy.tiling`),
cost figures, validation metrics and provenance, and the sha256 of the model file, which the runtime
checks before loading it. This module imports neither torch nor the training side.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from unetzoo.errors import UnetzooError
from unetzoo.utils.documents import read_document
from unetzoo.utils.integrity import sha256_file

CARD_FORMAT = "unetzoo-model-card"
CARD_VERSION = 1
REQUIRED_KEYS = (
    "format",
    "version",
    "model",
    "file_format",
    "classes",
    "class_names",
    "in_channels",
    "preprocess",
    "threshold",
    "padding",
    "input_name",
    "output_name",
    "sha256",
)


def card_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the card of ``model_path`` lives: the model's file name plus ``.json``."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def read_card(model_path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, Any]:
    """Load and check the card of ``model_path``; with ``verify``, also the model file's sha256.

    Raises:
        UnetzooError: missing model or card, unreadable or foreign card, or a model file whose sha256
            differs from the card's (tampered, truncated or swapped).
    """
    model = Path(model_path)
    card_file = card_path(model)
    if not model.is_file():
        raise UnetzooError(f"{model}: model file not found; pass the FILE given to `unetzoo export --out`")
    if not card_file.is_file():
        raise UnetzooError(
            f"{card_file}: model card not found; unetzoo only runs models exported with `unetzoo export`, "
            "which writes the card beside the model (keep both files together)"
        )
    fix = "re-export the model with `unetzoo export`"
    card = read_document(card_file, fmt=CARD_FORMAT, version=CARD_VERSION, what="model card", fix=fix)
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise UnetzooError(f"{card_file}: model card lacks {', '.join(missing)}; re-export the model")
    if verify:
        actual = sha256_file(model)
        if actual != card["sha256"]:
            raise UnetzooError(
                f"{model}: sha256 {actual[:12]}... does not match its model card {card_file.name} "
                f"({str(card['sha256'])[:12]}...): the file was modified, truncated or swapped; "
                "copy the exported model and its card together or re-export"
            )
    return card
