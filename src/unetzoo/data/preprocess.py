"""Preprocessing shared by training, evaluation, prediction and export: one serializable definition.

:class:`Preprocess` converts channels (gray <-> RGB) and normalizes intensities of a whole image, before any crop
or augmentation, as nnU-Net does; prediction applies the same object (``Preprocess.from_dict`` of what the run
saved) to the full input image (resampled first when the run has a working scale: :mod:`unetzoo.utils.resample`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.utils.channels import convert_channels
from unetzoo.utils.normalize import NORMALIZATIONS, normalize_image

if TYPE_CHECKING:
    from unetzoo.data.source import Source


@dataclass
class Preprocess:
    """Channel conversion + intensity normalization.

    Args:
        normalize: one of :data:`NORMALIZATIONS`.
        channels: channels the model takes; gray inputs are replicated to 3, RGB is reduced to 1 by BT.601 luma
            (:mod:`unetzoo.utils.channels`).
            ``None`` keeps the input's channels.
        mean, std: per-channel statistics for ``normalize="dataset"`` (set by :meth:`fit`).
    """

    normalize: str = "zscore"
    channels: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise UnetzooError(f"unknown normalization {self.normalize!r}; choose one of {', '.join(NORMALIZATIONS)}")
        if (self.mean is None) != (self.std is None):
            raise UnetzooError("Preprocess needs both mean and std, or neither; pass both or call fit()")

    def convert(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """``HxW`` or ``HxWxC`` -> ``HxWx channels`` float32 (:func:`unetzoo.utils.channels.convert_channels`)."""
        return convert_channels(image, self.channels, source)

    def normalized(self, image: np.ndarray) -> np.ndarray:
        """Normalize an ``HxWxC`` float32 image (channels already converted; :mod:`unetzoo.utils.normalize`)."""
        if self.normalize == "dataset" and (self.mean is None or self.std is None):
            raise UnetzooError("Preprocess(normalize='dataset') has no statistics; call fit(src, ids) first")
        return normalize_image(image, self.normalize, self.mean, self.std)

    def transform(self, image: np.ndarray) -> np.ndarray:
        """``HxWxC`` raw -> ``HxWxC`` converted and normalized float32 (what the dataset crops and augments)."""
        return np.ascontiguousarray(self.normalized(self.convert(image)), dtype=np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``HxWxC`` raw -> ``CxHxW`` float32, the model's input layout."""
        return np.ascontiguousarray(self.transform(image).transpose(2, 0, 1))

    def fit(self, src: Source, ids: Sequence[str]) -> Preprocess:
        """Per-channel mean/std over the images ``ids`` of ``src`` (for ``normalize="dataset"``); returns self."""
        index = {sample: k for k, sample in enumerate(src.ids)}
        total = sq = 0.0
        count = 0
        for sample in ids:
            image = self.convert(src.load(index[sample])[0]).astype(np.float64)
            total = total + image.sum(axis=(0, 1))
            sq = sq + np.square(image).sum(axis=(0, 1))
            count += image.shape[0] * image.shape[1]
        if count == 0:
            raise UnetzooError("Preprocess.fit needs at least one image id")
        mean = np.asarray(total) / count
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in np.sqrt(np.maximum(np.asarray(sq) / count - mean**2, 0.0))]
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"normalize": self.normalize, "channels": self.channels, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        unknown = set(data) - {"normalize", "channels", "mean", "std"}
        if unknown:
            raise UnetzooError(f"preprocessing record has unknown keys {sorted(unknown)}; was it saved by unetzoo?")
        return cls(**data)
