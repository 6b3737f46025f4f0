"""Data: every format in through one ``--data`` value, clear errors out, the papers' augmentation.

>>> from unetzoo.data import open_source, make_split, SegmentationDataset, Preprocess, build_augment
>>> src = open_source("synthetic:nuclei?n=8&size=64")
>>> split = make_split(src.ids, seed=0, val_fraction=0.25)
>>> ds = SegmentationDataset(src, split["train"], Preprocess("zscore", channels=3), build_augment("default"),
...                          patch_size=(48, 48))
>>> [tuple(t.shape) for t in ds[0]]
[(3, 48, 48), (48, 48)]

See docs/data.md for formats, checks, splits, preprocessing and the augmentation presets. This package builds
no networks and imports nothing from models or the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names load on first use (PEP 562): the readers (``unetzoo.data.io``, ``unetzoo.data.instances``) stay
# importable without torch, which only the dataset and augmentation need.
_LAZY = {
    "AUGMENT_PRESETS": "augment",
    "build_augment": "augment",
    "CheckReport": "check",
    "check_source": "check",
    "SegmentationDataset": "dataset",
    "BUILTIN": "formats",
    "FORMATS": "formats",
    "detect_format": "formats",
    "open_source": "formats",
    "NORMALIZATIONS": "preprocess",
    "Preprocess": "preprocess",
    "Source": "source",
    "kfold_splits": "splits",
    "load_split": "splits",
    "make_split": "splits",
    "save_split": "splits",
}

if TYPE_CHECKING:
    from unetzoo.data.augment import AUGMENT_PRESETS, build_augment
    from unetzoo.data.check import CheckReport, check_source
    from unetzoo.data.dataset import SegmentationDataset
    from unetzoo.data.formats import BUILTIN, FORMATS, detect_format, open_source
    from unetzoo.data.preprocess import NORMALIZATIONS, Preprocess
    from unetzoo.data.source import Source
    from unetzoo.data.splits import kfold_splits, load_split, make_split, save_split


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"unetzoo.data.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unetzoo.data' has no attribute {name!r}")


__all__ = [
    "AUGMENT_PRESETS",
    "BUILTIN",
    "FORMATS",
    "NORMALIZATIONS",
    "CheckReport",
    "Preprocess",
    "SegmentationDataset",
    "Source",
    "build_augment",
    "check_source",
    "detect_format",
    "kfold_splits",
    "load_split",
    "make_split",
    "open_source",
    "save_split",
]
