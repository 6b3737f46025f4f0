"""A PNG montage of a volume's prediction: slices of the first channel with the labels painted in colour.

What ``unetzoo predict --overlay`` writes for a volume (``{case}_overlay.png``), in the spirit of MONAI's
``matshow3d`` over ``blend_images``: a quick look, not a viewer. At most :data:`TILES` slices along the model's
slice axis, evenly spread over the slices holding foreground (over all slices when there is none), in rows of
:data:`COLUMNS`; intensities windowed to the volume's 0.5-99.5 percentiles; label ``k`` tinted at 45% in
ITK-SNAP's default colour for label ``k`` (1 red, 2 green, 3 blue, 4 yellow, 5 cyan, 6 magenta, then again).
Axial tiles are shown in array order (rows y, columns x: radiological view of an LPS-aligned volume); coronal
and sagittal tiles are flipped so that z (superior) points up.
"""

from __future__ import annotations

import math

import numpy as np

LABEL_COLOURS = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]], dtype=np.float32
)
"""ITK-SNAP's default colours of labels 1..6."""
TILES = 16
COLUMNS = 4
ALPHA = 0.45
GAP = 2
"""Black pixels between tiles."""


def montage_slices(labels: np.ndarray, dim: int, tiles: int = TILES) -> list[int]:
    """The slice indices along ``dim`` the montage shows: up to ``tiles``, evenly over the foreground's extent."""
    planes = np.moveaxis(labels, dim, 0)
    held = np.flatnonzero(planes.reshape(planes.shape[0], -1).any(axis=1))
    first, last = (int(held[0]), int(held[-1])) if held.size else (0, planes.shape[0] - 1)
    count = min(tiles, last - first + 1)
    return sorted({int(k) for k in np.linspace(first, last, count).round()})


def overlay_montage(image: np.ndarray, labels: np.ndarray, dim: int) -> tuple[np.ndarray, list[int]]:
    """RGB uint8 montage of a raw ``(z, y, x)`` ``image`` with its ``(z, y, x)`` ``labels``, and the slices shown."""
    shown = montage_slices(labels, dim)
    lo, hi = np.percentile(image, (0.5, 99.5))
    planes = np.moveaxis(image, dim, 0)
    marks = np.moveaxis(labels, dim, 0)
    h, w = planes.shape[1:]
    columns = min(COLUMNS, len(shown))
    rows = math.ceil(len(shown) / columns)
    out = np.zeros((rows * (h + GAP) - GAP, columns * (w + GAP) - GAP, 3), dtype=np.uint8)
    for n, k in enumerate(shown):
        gray = np.clip((planes[k].astype(np.float32) - lo) / max(float(hi - lo), 1e-6), 0, 1) * 255
        tile = np.repeat(gray[:, :, None], 3, axis=2)
        label = marks[k]
        fg = label > 0
        colours = LABEL_COLOURS[(label[fg].astype(np.int64) - 1) % len(LABEL_COLOURS)]
        tile[fg] = (1 - ALPHA) * tile[fg] + ALPHA * colours
        if dim != 0:
            tile = tile[::-1]
        r, c = divmod(n, columns)
        out[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = tile.round().astype(np.uint8)
    return out, shown
