"""Model registry in the style of timm (``@register_model``) and smp (``create_model``).

Each model family registers a builder with its paper, named presets (the papers' configurations) and
a default preset. ``create_model(name, preset=..., in_channels=..., classes=..., **kwargs)`` merges the
preset with the caller's keywords (the caller wins; ``None`` keywords are dropped, as timm does, so CLI
defaults never override model defaults).
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unetzoo.errors import UnetzooError
from unetzoo.models.base import SegmentationModel

Builder = Callable[..., SegmentationModel]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model family."""

    name: str
    builder: Builder
    paper: str
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_preset: str = "default"
    hidden: bool = False  # peers from other libraries: buildable by name, not listed by default

    def preset_kwargs(self, preset: str | None) -> dict[str, Any]:
        key = self.default_preset if preset is None else preset
        if key not in self.presets:
            raise UnetzooError(
                f"model {self.name!r} has no preset {key!r}; choose one of {sorted(self.presets)}",
                exit_code=2,
            )
        return dict(self.presets[key])


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    *,
    paper: str,
    presets: dict[str, dict[str, Any]] | None = None,
    default_preset: str = "default",
    hidden: bool = False,
) -> Callable[[Builder], Builder]:
    """Register a model class or builder function under ``name``.

    Args:
        name: registry name (lower-case, e.g. ``"ulite"``).
        paper: short citation shown by ``unetzoo models``.
        presets: named keyword sets reproducing the papers' configurations; ``default_preset``
            must be among them (an empty dict registers a single ``"default"`` preset).
        hidden: leave it out of :func:`list_models` unless ``include_hidden`` (peer models).
    """
    presets = presets or {"default": {}}
    if default_preset not in presets:
        raise ValueError(f"default preset {default_preset!r} of {name!r} is not in its presets")

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, paper, presets, default_preset, hidden)
        return builder

    return decorator


def get_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnetzooError(
            f"unknown model {name!r}; choose one of: {', '.join(list_models(include_hidden=True))}", exit_code=2
        ) from None


def list_models(pattern: str | None = None, *, include_hidden: bool = False) -> list[str]:
    """Sorted names of registered models, optionally filtered by an fnmatch ``pattern`` (e.g. ``"unet*"``).

    Peer models from other libraries (``monai_*``) are listed only with ``include_hidden=True``.
    """
    names = sorted(n for n, e in _REGISTRY.items() if include_hidden or not e.hidden)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def list_presets(name: str) -> list[str]:
    """Preset names of model ``name``, default first."""
    entry = get_entry(name)
    return [entry.default_preset, *sorted(p for p in entry.presets if p != entry.default_preset)]


def create_model(
    name: str,
    *,
    preset: str | None = None,
    in_channels: int | None = None,
    classes: int | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`.
        preset: a name from :func:`list_presets` (default: the model's default preset).
        in_channels: input channels; default: the preset's value, else 1.
        classes: output channels (logits); default: the preset's value, else 1.
        **kwargs: architecture options overriding the preset (``None`` values are ignored).

    Returns:
        The model, in training mode, returning logits of shape (N, classes, H, W) for any H, W >= 16.
    """
    entry = get_entry(name)
    options = entry.preset_kwargs(preset)
    options.update({k: v for k, v in kwargs.items() if v is not None})
    if in_channels is not None:
        options["in_channels"] = in_channels
    if classes is not None:
        options["classes"] = classes
    options.setdefault("in_channels", 1)
    options.setdefault("classes", 1)
    supports = getattr(entry.builder, "supports", None)
    if options.get("deep_supervision") and supports is not None and not supports.deep_supervision:
        with_heads = [n for n in list_models() if getattr(_REGISTRY[n].builder, "supports", supports).deep_supervision]
        raise UnetzooError(
            f"model {name!r} has no deep-supervision heads; drop --deep-supervision, or pick one that has: "
            f"{', '.join(with_heads)}",
            exit_code=2,
        )
    try:  # unknown or missing keywords: say which model and which options exist
        inspect.signature(entry.builder).bind(**options)
    except TypeError as exc:
        raise UnetzooError(f"cannot build {name!r} with options {sorted(options)}: {exc}", exit_code=2) from exc
    return entry.builder(**options)  # a TypeError raised inside the constructor is a bug: it propagates as is
