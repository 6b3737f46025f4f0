"""Object size: run an instance model at the scale its objects were trained at, as Cellpose's ``diameter`` does.

A model learns objects of a typical size: the median equivalent diameter ``D`` (``2 sqrt(area / pi)``) of the
objects in its training labels, at the images' original resolution. Objects of diameter ``d`` in a user's image
look like the training objects once the image is enlarged by ``D / d`` (the model's own working scale, if it
has one, then applies on top, as it did in training). Probabilities are mapped back to the original size and
the post-processing's ``min_area`` shrinks by the square of the factor, so objects come out in the user's pixels.

With no size given, :class:`ObjectSizer` estimates it from the image: a first pass at the trained scale and the
equivalent diameter of its mean object, the foreground area over the number of seeds (:func:`mean_diameter`; no
watershed, so the estimate costs a connected-component count rather than a decode). When that lies outside the
sizes the model met in training (the range of its training images' own median diameters, ``seen``; without one,
within ``TOLERANCE`` of ``D``), a second pass runs at the corrected scale (the size estimated from that pass is
the one reported). Inside the seen range the first pass is kept: the model has learnt objects of that size as
they are, and a second pass (on an enlarged image, the costliest) would only add time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.utils.resample import Resampling, apply_to_image, probabilities_back

if TYPE_CHECKING:
    from unetzoo.engine.predict import SegmenterLike
    from unetzoo.instances.segmenter import InstanceSegmenter

TOLERANCE = 1.25
"""Without a seen range: a first-pass estimate within this factor of the trained size keeps the first pass."""
MAX_FACTOR = 4.0
"""The largest enlargement or reduction applied; beyond it the image is refused with the fix."""


def median_diameter(labels: np.ndarray) -> float | None:
    """Median equivalent diameter ``2 sqrt(area / pi)`` of the objects of a label image (None: no object)."""
    areas = np.bincount(np.asarray(labels).ravel())[1:]
    areas = areas[areas > 0]
    if areas.size == 0:
        return None
    return float(2.0 * math.sqrt(float(np.median(areas)) / math.pi))


def mean_diameter(objects: InstanceSegmenter, probs: np.ndarray) -> float | None:
    """Equivalent diameter of the mean object of probabilities ``(K, H, W)``: ``2 sqrt(A / (n pi))`` with ``A``
    the foreground area and ``n`` the seeds, the connected components of the head's seed map above the decoding's
    ``seed`` level inside the foreground (of the foreground itself without a head). None: no seed.

    The objects are counted where the decoder would seed them, without flooding them (the watershed, and its
    h-maxima seeds, cost 20x more): on the 100 builtin nuclei images the estimate agreed with the decoded
    objects' median diameter on whether a second pass was needed for all but one of 300 images (the images at
    zooms 0.5, 1 and 2; docs/pretrained.md)."""
    from scipy import ndimage  # here, not at the top: a prediction at a given size does not need it

    foreground = objects.foreground(probs) > 0
    area = int(foreground.sum())
    seeds = foreground if objects.head is None else foreground & (objects.head.seed_map(probs) > objects.decoding.seed)
    count = ndimage.label(seeds)[1]
    if count == 0:
        return None
    return float(2.0 * math.sqrt(area / count / math.pi))


def scale_factor(trained_size: float, object_size: float, where: str = "--object-size") -> float:
    """How much to enlarge an image whose objects measure ``object_size`` px for a model trained at
    ``trained_size`` px.

    Raises:
        UnetzooError: a size that is not positive, or a factor beyond ``MAX_FACTOR`` either way.
    """
    if not object_size > 0:
        raise UnetzooError(
            f"{where} {object_size:g}: the typical object diameter must be a positive number of pixels", exit_code=2
        )
    factor = trained_size / object_size
    if not 1 / MAX_FACTOR <= factor <= MAX_FACTOR:
        low, high = trained_size / MAX_FACTOR, trained_size * MAX_FACTOR
        raise UnetzooError(
            f"{where} {object_size:g}: objects of that size are more than {MAX_FACTOR:g}x off the model's "
            f"{trained_size:.1f} px; resample the images first or give a size between {low:.1f} and {high:.1f}",
            exit_code=2,
        )
    return factor


def seen_sizes(diameters: Sequence[float], quantiles: tuple[float, float] = (0.1, 0.9)) -> tuple[float, float]:
    """The range of object sizes a model met in training: the ``quantiles`` of its training images' median
    object diameters (``diameters``, one per image with objects), so a few odd images do not widen it."""
    low, high = np.quantile(np.asarray(diameters, dtype=float), quantiles)
    return round(float(low), 2), round(float(high), 2)


@dataclass(frozen=True)
class RescaledSegmenter:
    """A segmenter run on images enlarged by ``factor``, its probabilities mapped back to the original size."""

    segmenter: SegmenterLike
    factor: float

    @property
    def threshold(self) -> float:
        return self.segmenter.threshold

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        image = np.asarray(image)
        enlarged = apply_to_image(image, Resampling("scale", scale=self.factor))
        probs = np.asarray(self.segmenter.probabilities(enlarged, source), dtype=np.float32)
        return probabilities_back(probs, image.shape[:2])


def rescaled(segmenter: SegmenterLike, factor: float) -> SegmenterLike:
    """``segmenter`` run on images enlarged by ``factor``. An already rescaled segmenter gets the product of the
    two factors, so the image is resampled, and its probabilities mapped back, once."""
    if factor == 1.0:
        return segmenter
    if isinstance(segmenter, RescaledSegmenter):
        return RescaledSegmenter(segmenter.segmenter, segmenter.factor * factor)
    return RescaledSegmenter(segmenter, factor)


def at_scale(objects: InstanceSegmenter, factor: float) -> InstanceSegmenter:
    """``objects`` run on images enlarged by ``factor`` (``min_area`` in the original image's pixels)."""
    if factor == 1.0:
        return objects
    min_area = round(objects.decoding.min_area / factor**2)
    return replace(
        objects,
        segmenter=rescaled(objects.segmenter, factor),
        decoding=replace(objects.decoding, min_area=min_area),
    )


@dataclass(frozen=True)
class SizedResult:
    """One image at its object scale: probabilities at the original size, the decoder that fits them, the size."""

    probs: np.ndarray
    objects: InstanceSegmenter
    object_size: float | None
    factor: float
    estimated: bool

    def record(self) -> dict[str, Any]:
        size = None if self.object_size is None else round(self.object_size, 2)
        return {"object_size": size, "object_size_estimated": self.estimated, "scale_factor": round(self.factor, 4)}


@dataclass(frozen=True)
class ObjectSizer:
    """Runs an instance model at the scale of each image's objects.

    Args:
        objects: the model and its post-processing.
        trained_size: median object diameter (px) of its training labels at their original resolution.
        object_size: the typical object diameter (px) in the user's images; None: estimate it per image.
        seen: (low, high) per-image median object diameters (px) of the training images (see
            :func:`seen_sizes`): an estimate inside keeps the first pass. None: ``TOLERANCE`` around
            ``trained_size``.
    """

    objects: InstanceSegmenter
    trained_size: float
    object_size: float | None = None
    seen: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.object_size is not None:
            scale_factor(self.trained_size, self.object_size)  # refuse a bad size before any image is read

    def run(self, image: np.ndarray, source: str = "image") -> SizedResult:
        if self.object_size is not None:
            factor = scale_factor(self.trained_size, self.object_size)
            view = at_scale(self.objects, factor)
            return SizedResult(view.probabilities(image, source), view, self.object_size, factor, False)
        probs = self.objects.probabilities(image, source)
        first = mean_diameter(self.objects, probs)
        low, high = self.seen or (self.trained_size / TOLERANCE, self.trained_size * TOLERANCE)
        if first is None or low <= first <= high:
            return SizedResult(probs, self.objects, first, 1.0, True)
        factor = min(max(self.trained_size / first, 1 / MAX_FACTOR), MAX_FACTOR)
        view = at_scale(self.objects, factor)
        probs = view.probabilities(image, source)
        second = mean_diameter(view, probs)
        return SizedResult(probs, view, second if second is not None else first, factor, True)
