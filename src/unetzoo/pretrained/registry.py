"""The registry of pretrained models shipped inside the package: what each is, and its files' sha256.

``weights/registry.json`` (written by ``scripts/train_pretrained.py``, never by hand) lists every model with its
task, architecture, training data and that data's licence, measured scores, the typical object size it was
trained at, its intended inputs, how it was made (command, git commit, data fingerprint) and its files: a
torch checkpoint, an ONNX export and the export's model card, each with its size and sha256. A file is hashed
and compared before every load: a file that differs (tampered, truncated, swapped) is refused with one line.
Nothing is ever downloaded. ``UNETZOO_PRETRAINED_DIR`` points at another folder of the same layout.

NumPy-free and torch-free: the ONNX runtime loads pretrained models on a device without torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unetzoo.errors import UnetzooError
from unetzoo.utils.documents import read_document
from unetzoo.utils.integrity import sha256_file

REGISTRY_FORMAT = "unetzoo-pretrained"
REGISTRY_VERSION = 1
FILE_KINDS = ("checkpoint", "onnx", "card")


def weights_dir() -> Path:
    """The folder holding ``registry.json`` and the weights (``UNETZOO_PRETRAINED_DIR``, else the package's)."""
    return Path(os.environ.get("UNETZOO_PRETRAINED_DIR") or Path(__file__).with_name("weights"))


@dataclass(frozen=True)
class PretrainedFile:
    """One shipped file: its name in the weights folder, size and sha256."""

    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class PretrainedModel:
    """A shipped model and its card (see ``docs/pretrained.md``)."""

    name: str
    task: str
    architecture: str
    summary: str
    training_data: str
    data_licence: str
    object_size: float
    intended_inputs: str
    not_trained_on: str
    files: dict[str, PretrainedFile]
    head: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    object_size_range: tuple[float, float] | None = None
    """The training images' range of median object diameters (px): see ``unetzoo.instances.scale.seen_sizes``."""

    @property
    def size_bytes(self) -> int:
        return sum(f.bytes for f in self.files.values())

    def path(self, kind: str) -> Path:
        """The verified path of file ``kind`` (``checkpoint``, ``onnx`` or ``card``).

        Raises:
            UnetzooError: the file is missing or its sha256 differs from the registry's.
        """
        entry = self.files[kind]
        path = weights_dir() / entry.name
        if not path.is_file():
            raise UnetzooError(f"{path}: pretrained model {self.name!r} is missing this file; reinstall unetzoo")
        actual = sha256_file(path)
        if actual != entry.sha256:
            raise UnetzooError(
                f"{path}: refused: sha256 {actual[:12]}... is not the registry's {entry.sha256[:12]}... for "
                f"pretrained model {self.name!r} (modified or damaged); reinstall unetzoo"
            )
        return path

    def onnx_path(self) -> Path:
        """The ONNX export, its model card verified too (the runtime reads the card beside it)."""
        self.path("card")
        return self.path("onnx")

    def row(self) -> dict[str, Any]:
        """The listing of ``unetzoo models --pretrained``: what a user needs to choose a model."""
        return {
            "name": self.name,
            "task": self.task,
            "architecture": self.architecture,
            "head": self.head,
            "training_data": self.training_data,
            "data_licence": self.data_licence,
            "object_size": self.object_size,
            "object_size_range": self.object_size_range,
            "scores": self.scores,
            "size_bytes": self.size_bytes,
            "sha256": {kind: f.sha256 for kind, f in self.files.items()},
            "summary": self.summary,
            "intended_inputs": self.intended_inputs,
            "not_trained_on": self.not_trained_on,
            "recipe": self.recipe,
        }


def _parse(entry: dict[str, Any], where: Path) -> PretrainedModel:
    try:
        files = {kind: PretrainedFile(**entry["files"][kind]) for kind in FILE_KINDS}
        seen = entry.get("object_size_range")  # a JSON list
        return PretrainedModel(**{**entry, "files": files, "object_size_range": tuple(seen) if seen else None})
    except (KeyError, TypeError) as exc:
        name = entry.get("name")
        raise UnetzooError(f"{where}: malformed pretrained entry {name!r} ({exc}); reinstall unetzoo") from None


def read_registry(folder: Path | None = None) -> dict[str, PretrainedModel]:
    """Every model registered in ``folder`` (default :func:`weights_dir`) by name; no registry: none."""
    where = (folder or weights_dir()) / "registry.json"
    if not where.is_file():
        return {}
    fix = "reinstall unetzoo"
    data = read_document(where, fmt=REGISTRY_FORMAT, version=REGISTRY_VERSION, what="pretrained registry", fix=fix)
    return {m.name: m for m in (_parse(e, where) for e in data.get("models", []))}


def write_registry(models: list[PretrainedModel], folder: Path) -> Path:
    """Write ``folder/registry.json`` listing ``models`` (the training script's last step)."""
    from dataclasses import asdict

    from unetzoo.utils.atomic import atomic_write_text

    payload = {"format": REGISTRY_FORMAT, "version": REGISTRY_VERSION, "models": [asdict(m) for m in models]}
    path = folder / "registry.json"
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
    return path
