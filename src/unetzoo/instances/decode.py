"""From a head's probabilities to one label per object: seeded watershed (Beucher and Meyer 1993).

Seeds are the connected components of the head's seed map above ``seed`` inside the foreground; the foreground
(``1 - p(background) > foreground``) is flooded from them over the inverted seed map
(:func:`skimage.segmentation.watershed`), so touching objects split where the seed map dips between their
centres. Objects smaller than ``min_area`` pixels are dropped. A foreground region without a seed stays
background: it is too weak to be an object by the head's own account.

With ``h > 0`` the seeds are the seed map's regional maxima of dynamic at least ``h`` (h-maxima, Soille,
"Morphological Image Analysis", 2003, Sec. 6.3.4), still above ``seed``, on the map smoothed by a 1-pixel
Gaussian: two touching objects keep two seeds however high the ridge between them, if it dips by ``h``, and one
object whose map has a noisy plateau keeps one. The tuning (:mod:`unetzoo.instances.tune`) chooses ``h`` (0: the
plain threshold) with the other parameters.

scipy and scikit-image are imported by the functions that use them (half a second), so that a command
writing masks only (``unetzoo predict`` without ``--instances``) does not pay for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from unetzoo.data import instances as data_instances
from unetzoo.data.instances import relabel


@dataclass(frozen=True)
class Decoding:
    """Post-processing parameters, chosen on the validation split (:func:`unetzoo.instances.tune.tune`).

    Args:
        foreground: a pixel belongs to some object when ``1 - p(background)`` exceeds this.
        seed: seeds are the seed map's components above this.
        min_area: objects with fewer pixels (at the original image size) are removed.
        h: seeds are the h-maxima of dynamic ``h`` of the smoothed seed map above ``seed``; 0: all of the seed
            map above ``seed``.
        zoom: the network sees each image enlarged by this factor (beyond its working scale), its probabilities
            mapped back to the image's size (:class:`~unetzoo.instances.segmenter.InstanceSegmenter`); chosen
            with the rest, since a network may split touching objects better when they are larger than it met
            them in training.
    """

    foreground: float = 0.5
    seed: float = 0.5
    min_area: int = 0
    h: float = 0.0
    zoom: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Decoding:
        return cls(**(data or {}))


def remove_small(labels: np.ndarray, min_area: int) -> np.ndarray:
    """``labels`` without objects of fewer than ``min_area`` pixels, relabelled 1..N."""
    if min_area > 1:
        areas = np.bincount(labels.ravel())
        small = areas < min_area
        small[0] = False
        if small.any():
            labels = np.where(small[labels], 0, labels)
    return relabel(labels)[0]


def h_maxima_above(image: np.ndarray, h: float, level: float) -> np.ndarray:
    """``h_maxima(image, h)`` on the pixels above ``level`` (False elsewhere), computed on those regions only.

    The reconstruction behind h-maxima sorts every pixel of the image (19 ms of a 20 ms decode at 256x256). At
    a pixel above ``level`` the reconstruction of ``image - h`` is at least ``level - h``, so no path through
    pixels at or below ``floor = level - h`` can raise it: each 8-connected region above ``floor`` can be solved
    on its own bounding box, the rest of the box held at ``floor``. The boxes are packed into one mosaic, one
    pixel of ``floor`` apart (:func:`pack`), and solved by one call: scikit-image's fixed cost per call (0.7 ms)
    would otherwise be paid per region. Same result, on the regions' pixels only.
    """
    from scipy import ndimage
    from skimage.morphology import h_maxima

    floor = np.float32(level - h)
    regions, n = ndimage.label(image > floor, structure=np.ones((3, 3), bool))
    peaks = np.full(n + 1, floor, np.float32)
    np.maximum.at(peaks, regions[regions > 0], image[regions > 0])
    out = np.zeros(image.shape, bool)
    boxes = [(k, box) for k, box in enumerate(ndimage.find_objects(regions), start=1) if peaks[k] > level]
    if not boxes:  # no pixel can be a seed
        return out
    insides = [regions[box] == k for k, box in boxes]
    corners, shape = pack([inside.shape for inside in insides])
    mosaic = np.full(shape, floor, np.float32)
    for (_, box), inside, (y, x) in zip(boxes, insides, corners, strict=True):
        height, width = inside.shape
        mosaic[y : y + height, x : x + width][inside] = image[box][inside]
    maxima = h_maxima(mosaic, h).astype(bool)
    for (_, box), inside, (y, x) in zip(boxes, insides, corners, strict=True):
        height, width = inside.shape
        out[box] |= maxima[y : y + height, x : x + width] & inside
    return out & (image > level)


def pack(shapes: list[tuple[int, int]], gap: int = 1) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Top-left corners that place rectangles of ``shapes`` (height, width) in rows, ``gap`` pixels apart, tallest
    first; and the shape of the mosaic that holds them (about square)."""
    area = sum((height + gap) * (width + gap) for height, width in shapes)
    row_width = max(max(width for _, width in shapes), int(np.sqrt(area)))
    corners: list[tuple[int, int]] = [(0, 0)] * len(shapes)
    x = y = row_height = 0
    for i in sorted(range(len(shapes)), key=lambda i: -shapes[i][0]):
        height, width = shapes[i]
        if x and x + width > row_width:  # next row
            x, y, row_height = 0, y + row_height + gap, 0
        corners[i] = (y, x)
        x, row_height = x + width + gap, max(row_height, height)
    return corners, (y + row_height, row_width)


def seeded_watershed(seed_map: np.ndarray, foreground: np.ndarray, params: Decoding) -> np.ndarray:
    """``int32`` labels (0 = background) of the objects seeded in ``foreground`` (see the module docstring)."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    seed_map = seed_map.astype(np.float32, copy=False)
    seeds = foreground
    if params.h > 0:
        seed_map = ndimage.gaussian_filter(seed_map, 1.0)
        seeds = seeds & h_maxima_above(seed_map, params.h, params.seed)
    markers, count = ndimage.label((seed_map > params.seed) & seeds)
    if count == 0:
        return np.zeros(seed_map.shape, np.int32)
    labels = watershed(-seed_map, markers, mask=foreground)
    return remove_small(labels.astype(np.int32, copy=False), params.min_area)


def components(foreground: np.ndarray, min_area: int = 0) -> np.ndarray:
    """4-connected components of a binary mask of at least ``min_area`` pixels, as ``int32`` labels: a semantic
    model's objects (touching objects merge)."""
    return remove_small(data_instances.components(foreground), min_area)
