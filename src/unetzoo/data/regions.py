"""Region-based labels (nnU-Net ``documentation/region_based_training.md``): overlapping regions made of classes.

BraTS labels 1 oedema, 2 non-enhancing core, 3 enhancing are scored as the nested regions whole tumour
{1, 2, 3}, tumour core {2, 3} and enhancing tumour {3}. nnU-Net declares them in ``dataset.json``: ``labels``
maps each region name to its list of ids (background 0), and ``regions_class_order`` gives, per region in that
order, the label id painted where the region is predicted. Region-based training has one sigmoid output per
region (a voxel may be in several); the label map is recovered by painting region after region, each where its
probability exceeds 0.5 (``nnunetv2/utilities/label_handling``: ``convert_probabilities_to_segmentation``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from unetzoo.errors import UnetzooError


@dataclass(frozen=True)
class Regions:
    """Region names, the class ids each holds, and the id each paints back (``regions_class_order``)."""

    names: tuple[str, ...]
    ids: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.ids) == len(self.order)) or not self.names:
            raise UnetzooError(f"regions {self.names} need one id list and one regions_class_order entry each")

    @classmethod
    def from_labels(cls, labels: Mapping[str, int | Sequence[int]], order: Sequence[int]) -> Regions:
        """From nnU-Net's region-based ``labels`` (background first) and ``regions_class_order``."""
        entries = [(name, value) for name, value in labels.items() if value != 0 and name != "background"]
        ids = tuple(tuple(v) if isinstance(v, Sequence) else (int(v),) for _, v in entries)
        return cls(tuple(name for name, _ in entries), ids, tuple(int(i) for i in order))

    def __len__(self) -> int:
        return len(self.names)

    def masks(self, labels: np.ndarray) -> np.ndarray:
        """Label map ``(...)`` -> ``(R, ...)`` bool membership of each region."""
        return np.stack([np.isin(labels, ids) for ids in self.ids])

    def to_labels(self, probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Region probabilities ``(R, ...)`` -> label map ``(...)`` int64, painted in ``order``."""
        labels = np.zeros(probs.shape[1:], dtype=np.int64)
        for channel, class_id in zip(probs, self.order, strict=True):
            labels[channel > threshold] = class_id
        return labels

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "ids": [list(i) for i in self.ids], "order": list(self.order)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Regions:
        return cls(tuple(data["names"]), tuple(tuple(i) for i in data["ids"]), tuple(data["order"]))
