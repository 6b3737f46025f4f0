"""Pretrained models that ship with unetzoo: segment without training, and without a network connection.

>>> import unetzoo.pretrained
>>> [m.name for m in unetzoo.pretrained.list()]
['nuclei']
>>> objects = unetzoo.pretrained.load_pretrained("nuclei")      # ONNX runtime; engine="torch" for torch
>>> labels = objects.predict(image)                            # one uint id per nucleus, 0 = background
>>> mask = objects.foreground(objects.probabilities(image))    # the nuclei mask

Every file is checked against the sha256 in the registry before it is loaded (:mod:`.registry`).
``docs/pretrained.md`` is the models' card: training data, recipe, scores, intended inputs.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unetzoo.errors import UnetzooError
from unetzoo.pretrained.registry import PretrainedModel, read_registry

if TYPE_CHECKING:
    from unetzoo.instances.scale import ObjectSizer
    from unetzoo.instances.segmenter import InstanceSegmenter

ENGINES = ("onnx", "torch")


def list() -> builtins.list[PretrainedModel]:  # the registry's verb, as torch.hub.list
    """Every shipped model, by name."""
    return sorted(read_registry().values(), key=lambda m: m.name)


def names() -> builtins.list[str]:
    return [m.name for m in list()]


def is_pretrained(name: str) -> bool:
    """Whether ``name`` is a shipped model's name."""
    return name in read_registry()


def pretrained_name(value: str | None) -> str | None:
    """``value`` when it names a pretrained model rather than a file; None for a file (existing, or with a model
    file's suffix). Any other value is an unknown name: a one-line error listing the shipped models."""
    if value is None or Path(value).exists() or Path(value).suffix.lower() in (".onnx", ".pt", ".pth"):
        return None
    return get(value).name


def get(name: str) -> PretrainedModel:
    """The registry entry of ``name``; an unknown name is a one-line error listing the shipped models."""
    models = read_registry()
    if name not in models:
        shipped = ", ".join(sorted(models)) or "none are installed"
        raise UnetzooError(f"pretrained model {name!r} not found; shipped models: {shipped}", exit_code=2)
    return models[name]


def load_pretrained(name: str, *, engine: str = "onnx", **options: Any) -> InstanceSegmenter:
    """A shipped model ready to segment, after its files' sha256 are checked.

    Args:
        name: a name from :func:`list`.
        engine: ``onnx`` (onnxruntime, no torch needed) or ``torch``.
        options: passed to the engine's segmenter (``tta``, ``tile``, ``overlap``, ``threshold``, ``threads``
            for ONNX).

    Returns:
        An :class:`~unetzoo.instances.segmenter.InstanceSegmenter`: ``predict`` gives objects, ``foreground``
        the mask, ``segmenter`` the plain network.
    """
    from unetzoo.instances.segmenter import InstanceSegmenter

    model = get(name)
    if engine == "onnx":
        from unetzoo.deploy.runtime import OnnxSegmenter

        segmenter: Any = OnnxSegmenter(model.onnx_path(), **options)
        return InstanceSegmenter.from_record(segmenter, segmenter.card.get("instances"))
    if engine == "torch":
        return InstanceSegmenter.from_checkpoint(model.path("checkpoint"), **options)
    raise UnetzooError(f"engine {engine!r}: choose one of {', '.join(ENGINES)}", exit_code=2)


def object_sizer(name: str, objects: InstanceSegmenter, object_size: float | None = None) -> ObjectSizer:
    """Runs ``objects`` (a loaded pretrained model) at each image's object scale (``object_size`` px, or
    estimated per image when None; see :mod:`unetzoo.instances.scale`)."""
    from unetzoo.instances.scale import ObjectSizer

    model = get(name)
    return ObjectSizer(objects, model.object_size, object_size, model.object_size_range)


__all__ = [
    "ENGINES",
    "PretrainedModel",
    "get",
    "is_pretrained",
    "list",
    "load_pretrained",
    "names",
    "object_sizer",
    "pretrained_name",
]
