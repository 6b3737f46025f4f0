"""Instance heads: what an ordinary segmentation network predicts so that its output can be split into objects.

A head is a class-map target (:mod:`unetzoo.instances.targets`) plus the seed map its decoder floods from
(:mod:`unetzoo.instances.decode`). Any registered network becomes an instance model by predicting the head's
classes: the engine trains it like a multi-class model (``unetzoo train --task instances --head NAME``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.instances.decode import Decoding, seeded_watershed
from unetzoo.instances.targets import INTERIOR, boundary_classes, contact_levels, distance_levels


class InstanceHead:
    """Base class: a name, the names of its output classes (0 = background), a target and a seed map."""

    name: ClassVar[str]
    class_names: ClassVar[tuple[str, ...]]

    @property
    def classes(self) -> int:
        """Output classes of the network."""
        return len(self.class_names)

    def encode(self, labels: np.ndarray) -> np.ndarray:
        """Instance labels ``HxW`` -> the class map the network learns."""
        raise NotImplementedError

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        """Probabilities ``(classes, H, W)`` -> a map that peaks at object centres, in [0, 1]."""
        raise NotImplementedError

    def decode(self, probs: np.ndarray, params: Decoding) -> np.ndarray:
        """Probabilities ``(classes, H, W)`` -> ``int32`` instance labels (0 = background)."""
        return seeded_watershed(self.seed_map(probs), 1.0 - probs[0] > params.foreground, params)


class BoundaryHead(InstanceHead):
    """Background / interior / boundary (Caicedo et al. 2019); seeds: the interior probability."""

    name = "boundary"
    class_names = ("background", "interior", "boundary")

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return boundary_classes(labels)

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        return probs[INTERIOR]


class DistanceHead(InstanceHead):
    """Normalised distance to the object border in ``LEVELS`` levels (Deep Watershed Transform, Bai and Urtasun
    2017); seeds: the expected normalised distance ``sum_k p_k * k / LEVELS``."""

    LEVELS: ClassVar[int] = 4
    name = "distance"
    class_names = ("background", *(f"level{k}" for k in range(1, LEVELS + 1)))

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return distance_levels(labels, self.LEVELS)

    def seed_map(self, probs: np.ndarray) -> np.ndarray:
        weights = np.zeros(self.classes, np.float32)  # a contact class (ContactHead) weighs 0, as background
        weights[: self.LEVELS + 1] = np.arange(self.LEVELS + 1) / self.LEVELS
        return np.einsum("k,k...->...", weights, probs)  # not tensordot: BLAS threads would crowd forked decoders


class ContactHead(DistanceHead):
    """The distance levels plus a contact class where objects touch (:func:`~unetzoo.instances.targets.contact_levels`);
    seeds: the expected normalised distance, with contact pixels at 0, so the seed map dips to the floor between
    touching objects and the watershed splits them there."""

    name = "contact"
    class_names = (*DistanceHead.class_names, "contact")

    def encode(self, labels: np.ndarray) -> np.ndarray:
        return contact_levels(labels, self.LEVELS)


HEADS: dict[str, InstanceHead] = {head.name: head for head in (BoundaryHead(), DistanceHead(), ContactHead())}
"""The instance heads by name (``--head``)."""


def get_head(name: str) -> InstanceHead:
    """The head called ``name``; an unknown name is a one-line error listing the heads."""
    if name not in HEADS:
        raise UnetzooError(f"--head {name!r}: choose one of {', '.join(HEADS)}", exit_code=2)
    return HEADS[name]
