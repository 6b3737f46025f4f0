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

from typing import TYPE_CHECKING

from unetzoo.utils.lazy import lazy_attributes

# Names load on first use (PEP 562): the readers (``unetzoo.data.io``, ``unetzoo.data.instances``) stay
# importable without torch, which only the dataset and augmentation need.
_LAZY = {
    "AUGMENT_PRESETS": "unetzoo.data.augment",
    "build_augment": "unetzoo.data.augment",
    "CheckReport": "unetzoo.data.check",
    "check_source": "unetzoo.data.check",
    "SegmentationDataset": "unetzoo.data.dataset",
    "BUILTIN": "unetzoo.data.formats",
    "FORMATS": "unetzoo.data.formats",
    "detect_format": "unetzoo.data.formats",
    "open_source": "unetzoo.data.formats",
    "NORMALIZATIONS": "unetzoo.data.preprocess",
    "Preprocess": "unetzoo.data.preprocess",
    "Source": "unetzoo.data.source",
    "kfold_splits": "unetzoo.data.splits",
    "load_split": "unetzoo.data.splits",
    "make_split": "unetzoo.data.splits",
    "save_split": "unetzoo.data.splits",
}

if TYPE_CHECKING:
    from unetzoo.data.augment import AUGMENT_PRESETS, build_augment
    from unetzoo.data.check import CheckReport, check_source
    from unetzoo.data.dataset import SegmentationDataset
    from unetzoo.data.formats import BUILTIN, FORMATS, detect_format, open_source
    from unetzoo.data.preprocess import NORMALIZATIONS, Preprocess
    from unetzoo.data.source import Source
    from unetzoo.data.splits import kfold_splits, load_split, make_split, save_split


__getattr__ = lazy_attributes(__name__, _LAZY)


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
