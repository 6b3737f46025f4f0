"""Training targets of the instance heads: an instance label image (0 = background, 1..N) as a class map.

Both targets are class maps, so an instance head trains with the engine's own losses, augmentation and
resampling (a class map survives nearest-neighbour warps and the per-class area vote of
:func:`unetzoo.utils.resample.resize_labels`); only decoding (:mod:`unetzoo.instances.decode`) is new.

* :func:`boundary_classes`: background / interior / boundary, the three-class target of Caicedo et al.
  (Cytometry A 2019, "Evaluation of deep learning strategies for nucleus segmentation in fluorescence images"),
  used by most DSB 2018 entries: touching nuclei are kept apart by the boundary class.
* :func:`distance_levels`: the distance of each pixel to its object's border, normalised by the object's largest
  distance and quantised into ``levels`` classes, as the Deep Watershed Transform (Bai and Urtasun, CVPR 2017,
  Sec. 3.2) quantises its energy. Normalising per object makes the target scale-free: every object, small or
  large, has its top level at its centre, which becomes its watershed seed.
* :func:`contact_levels`: the distance levels plus a class of their own for contact pixels, where an object
  touches another (:func:`contact_pixels`). Touching objects are where a distance head merges nuclei; the
  contact class gives those few pixels a target and a Dice term of their own, as the winning DSB 2018 entry
  (topcoders: Durnov, Buslaev and Seferbekov, 2018) gives the borders between nuclei a channel of their own and
  U-Net's separation weights (Ronneberger et al. 2015, Sec. 3, Eq. 2) single out the gaps between cells.
"""

from __future__ import annotations

import numpy as np

from unetzoo.utils.edges import boundary_pixels

INTERIOR, BOUNDARY = 1, 2


def inner_boundary(labels: np.ndarray) -> np.ndarray:
    """Object pixels with a 4-neighbour of another id (background included; outside the image does not count):
    a 1-pixel contour per object, so two touching objects are separated by two boundary pixels."""
    return boundary_pixels(labels) & (labels > 0)


def boundary_classes(labels: np.ndarray) -> np.ndarray:
    """``uint8`` class map: 0 background, 1 interior, 2 boundary (:func:`inner_boundary`)."""
    out = (labels > 0).astype(np.uint8)
    out[inner_boundary(labels)] = BOUNDARY
    return out


def border_distance(labels: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of each object pixel to the nearest pixel outside its object (1 on its contour);
    0 on background. One distance transform for all objects: contours are set to 1 and distances grow inward."""
    from scipy import ndimage  # here, not at the top: prediction imports the heads but never encodes a target

    inside = (labels > 0) & ~inner_boundary(labels)
    return np.where(labels > 0, ndimage.distance_transform_edt(inside) + 1.0, 0.0)


def normalised_distance(labels: np.ndarray) -> np.ndarray:
    """:func:`border_distance` divided by its maximum within each object: 1 at every object's centre."""
    distance = border_distance(labels)
    n = int(labels.max(initial=0))
    if n == 0:
        return distance
    peak = np.ones(n + 1)  # every object pixel is >= 1 away from outside, so a peak of 1 changes none
    inside = labels > 0
    np.maximum.at(peak, labels[inside], distance[inside])  # per-object maximum without ndimage's full argsort
    return distance / peak[labels]


def distance_levels(labels: np.ndarray, levels: int = 4) -> np.ndarray:
    """``uint8`` class map: 0 background, ``k`` in 1..levels where the normalised distance is in
    ((k-1)/levels, k/levels]."""
    return np.ceil(normalised_distance(labels) * levels).clip(0, levels).astype(np.uint8)


def contact_pixels(labels: np.ndarray) -> np.ndarray:
    """Object pixels with a 4-neighbour in another object (background does not count): a 2-pixel line where
    two objects touch, nothing where an object meets background; a subset of :func:`inner_boundary`."""
    return boundary_pixels(labels, objects_only=True)


def contact_levels(labels: np.ndarray, levels: int = 4) -> np.ndarray:
    """``uint8`` class map: :func:`distance_levels`, and ``levels + 1`` on :func:`contact_pixels`."""
    out = distance_levels(labels, levels)
    out[contact_pixels(labels)] = levels + 1
    return out
