"""Instance label images: one integer id per object, 0 = background.

An instance label image (``instances/<stem>.png|tif`` beside ``images/``; the output of StarDist, Cellpose,
``unetzoo predict --instances`` or a hand labelling tool) is read as follows:

* it must be single-channel with integer values: any integer dtype, bool, or a float image whose values are all
  whole numbers up to 2^53 (ImageJ stores label images as 32-bit float); anything else is an error naming the
  file;
* 0 is background and every other value is one object, whatever the ids are (gaps, large or negative ids): ids
  are relabelled to ``1..N`` in increasing order of value, so an id can never be shared by two objects by
  construction (a label image holds one id per pixel);
* an object need not be connected (an id in several pieces is one object, as in the DSB 2018 masks).

:func:`relabel` is numpy's ``unique``/``bincount`` doing what ``skimage.segmentation.relabel_sequential`` does
(the tests check it against scikit-image; it is kept because its lookup table is faster on small ids).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from unetzoo.data import io
from unetzoo.data.problems import fail
from unetzoo.errors import UnetzooError

_LUT_LIMIT = 1 << 24
"""Largest id relabelled through a lookup table (an array of this many int32 is 64 MiB)."""

_NEIGHBOURHOODS = {4: np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool), 8: np.ones((3, 3), bool)}
"""The 2D pixel neighbourhoods that connect a component: edge neighbours (4) or edge and corner neighbours (8)."""

FIX_LABELS = "store one integer id per pixel (uint16 PNG or integer TIFF), 0 = background"


def relabel(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """``(labels with ids 1..N in increasing order of the original values, N)`` as int32; 0 stays 0.

    The same result as ``skimage.segmentation.relabel_sequential(labels)[0]`` for non-negative ids; negative ids
    are objects too (ordered below the positive ones). A lookup table when ids are small, else ``np.unique`` and
    ``np.searchsorted``.
    """
    flat = np.asarray(labels).ravel()
    if flat.dtype.kind == "b":
        flat = flat.view(np.uint8)
    small = flat.dtype.kind in "ui" and (flat.size == 0 or (flat.min() >= 0 and flat.max() < _LUT_LIMIT))
    if small:
        present = np.bincount(flat.astype(np.intp) if flat.dtype == np.uint64 else flat, minlength=1) > 0
        if present[1:].all():  # ids 1..N already: nothing to renumber
            return flat.astype(np.int32, copy=False).reshape(np.shape(labels)), present.size - 1
        present[0] = False
        inverse = flat
    else:
        values = np.unique(flat)
        inverse = np.searchsorted(values, flat)  # 5x faster than unique(return_inverse=True), which argsorts
        present = values != 0
    lut = np.cumsum(present, dtype=np.int32)
    lut[~present] = 0
    return lut[inverse].reshape(np.shape(labels)), int(lut.max(initial=0))


def components(mask: np.ndarray, connectivity: int = 4) -> np.ndarray:
    """``int32`` labels ``1..N`` of the connected components of the non-zero pixels of 2D ``mask`` (0 stays 0).

    ``connectivity`` is 4 (edge neighbours) or 8 (corners too). Every "objects of a binary mask" in the package
    comes from here: a semantic model's objects, ``unetzoo score --connected-components``, the EM scores and
    ``unetzoo data instances``.
    """
    from scipy import ndimage  # not at import: the command-line parser reads this module

    return ndimage.label(np.asarray(mask) != 0, structure=_NEIGHBOURHOODS[connectivity])[0].astype(np.int32)


def integer_labels(raw: np.ndarray, where: str | os.PathLike[str]) -> np.ndarray:
    """A decoded label image as integers: one channel, whole values (see the module docstring), else an error
    naming ``where``. Integer and bool arrays are returned as they are, whole floats as int64."""
    if raw.ndim != 2:
        raise fail(where, f"label image has {raw.shape[2]} channels, not one", FIX_LABELS)
    if raw.dtype.kind == "f":
        whole = np.isfinite(raw) & (raw == np.round(raw))
        if not whole.all():
            example = raw[~whole].flat[0]
            what = f"label image holds non-integer values (e.g. {example:g}): probabilities, not ids?"
            raise fail(where, what, FIX_LABELS)
        if raw.size and np.abs(raw).max() > 2**53:  # beyond it, floats skip integers: two ids could collide
            raise fail(where, f"label image holds float ids beyond 2^53 (e.g. {np.abs(raw).max():g})", FIX_LABELS)
        return raw.astype(np.int64)
    if raw.dtype.kind not in "uib":
        raise fail(where, f"label image of dtype {raw.dtype}", FIX_LABELS)
    return raw


def to_instances(raw: np.ndarray, where: str | os.PathLike[str]) -> np.ndarray:
    """Validate a decoded label image and relabel it (see the module docstring); ``where`` names it in errors."""
    return relabel(integer_labels(raw, where))[0]


def read_instances(path: str | os.PathLike[str], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read, validate and relabel an instance label file; ``shape`` (HxW) is the size it must have."""
    labels = to_instances(io.read_image(path, mask=True), path)
    if shape is not None and labels.shape != tuple(shape):
        raise fail(
            path,
            f"instance labels are {labels.shape[0]}x{labels.shape[1]} (HxW) but the image is {shape[0]}x{shape[1]}",
            "re-export the labels at the image size",
        )
    return labels


def touching(labels: np.ndarray) -> int:
    """Objects that touch another object (4-neighbourhood): those a connected-components split of the mask
    merges with a neighbour."""
    pairs = []
    for a, b in ((labels[1:], labels[:-1]), (labels[:, 1:], labels[:, :-1])):
        edge = (a != b) & (a != 0) & (b != 0)
        pairs += [a[edge], b[edge]]
    return int(np.unique(np.concatenate(pairs)).size)


@dataclass(frozen=True)
class InstanceStats:
    """Objects in one relabelled label image, those touching another, and foreground pixels."""

    objects: int
    touching: int
    pixels: int


def instance_stats(labels: np.ndarray) -> InstanceStats:
    return InstanceStats(int(labels.max(initial=0)), touching(labels), int(np.count_nonzero(labels)))


def require_instances(source: Any, i: int) -> np.ndarray:
    """Sample ``i``'s instance labels (:meth:`Source.read_instances`), or a one-line error naming its image."""
    labels = source.read_instances(i)
    if labels is None:
        raise UnetzooError(
            f"{source.where(i)}: has no instance labels; add instances/<stem>.png (uint16, 0 = background, one id "
            "per object) beside images/, or score the semantic mask without --instances"
        )
    return labels
