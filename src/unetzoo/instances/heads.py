"""Instance heads: what an ordinary segmentation network predicts so that its output can be split into objects.

A head is a class-map target (:mod:`unetzoo.instances.targets`) plus the seed map its decoder floods from
(:mod:`unetzoo.instances.decode`). Any registered network becomes an instance model by predicting the head's
classes: the engine trains it like a multi-class model (``unetzoo train --task instances --head NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.instances.decode import Decoding, seeded_watershed
from unetzoo.instances.targets import INTERIOR, boundary_classes, contact_levels, distance_levels


@dataclass(frozen=True)
class InstanceHead:
    """Base class: ``classes`` output classes (0 = background), their names, a target and a seed map."""

    name: str
    classes: int
    class_names: tuple[str, ...]

    def encode(self, labels: np.ndarray) -> np.ndarray:
        """Instance labels ``HxW`` -> the class map the network learns."""
        raise NotImplementedError

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities ``(classes, H, W)`` -> a map that peaks at object centres, in [0, 1]."""
        raise NotImplementedError

    def decode(self, probs: np.ndarray, params: Decoding) -> np.ndarray:
        """Probabilities ``(classes, H, W)`` -> ``int32`` instance labels (0 = background)."""
        return seeded_watershed(self.seed_map(probs), 1.0 - probs[0] > params.foreground, params)


@dataclass(frozen=True)
class BoundaryHead(InstanceHead):
    """Background / interior / boundary (Caicedo et al. 2019); seeds: the interior probability."""

    name: str = "boundary"
    classes: int = 3
    class_names: tuple[str, ...] = ("background", "interior", "boundary")

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return boundary_classes(labels)

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        return probs[INTERIOR]


@dataclass(frozen=True)
class DistanceHead(InstanceHead):
    """Normalised distance to the object border in ``classes - 1`` levels (Deep Watershed Transform, Bai and
    Urtasun 2017); seeds: the expected normalised distance ``sum_k p_k * k / levels``."""

    name: str = "distance"
    classes: int = 5
    class_names: tuple[str, ...] = ("background", "level1", "level2", "level3", "level4")

    levels: int = 4

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return distance_levels(labels, self.levels)

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        weights = np.zeros(self.classes, np.float32)  # a contact class (ContactHead) weighs 0, as background
        weights[: self.levels + 1] = np.arange(self.levels + 1) / self.levels
        return np.tensordot(weights, probs, axes=1)


@dataclass(frozen=True)
class ContactHead(DistanceHead):
    """The distance levels plus a contact class where objects touch (:func:`~unetzoo.instances.targets.contact_levels`);
    seeds: the expected normalised distance, with contact pixels at 0, so the seed map dips to the floor between
    touching objects and the watershed splits them there."""

    name: str = "contact"
    classes: int = 6
    class_names: tuple[str, ...] = ("background", "level1", "level2", "level3", "level4", "contact")

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return contact_levels(labels, self.levels)


HEADS: dict[str, InstanceHead] = {head.name: head for head in (BoundaryHead(), DistanceHead(), ContactHead())}
"""The instance heads by name (``--head``)."""


def get_head(name: str) -> InstanceHead:
    """The head called ``name``; an unknown name is a one-line error listing the heads."""
    if name not in HEADS:
        raise UnetzooError(f"--head {name!r}: choose one of {', '.join(HEADS)}", exit_code=2)
    return HEADS[name]
