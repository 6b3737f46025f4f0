"""The model zoo: one module per family; importing this package registers them all."""

from unetzoo.models.base import SegmentationModel, Supports
from unetzoo.models.registry import create_model, get_entry, list_models, list_presets, register_model

# Families register themselves on import (one module each).
from unetzoo.models import families  # noqa: F401  # isort: skip

__all__ = [
    "SegmentationModel",
    "Supports",
    "create_model",
    "get_entry",
    "list_models",
    "list_presets",
    "register_model",
]
