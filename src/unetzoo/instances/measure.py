"""Count and measure objects: the per-object table (:func:`object_table`, scikit-image ``regionprops``), ImageJ
ROIs (:func:`write_rois`, the ``roifile`` package) and outlines in distinct colours (:func:`outline_overlay`).

Columns of the table, one row per object: ``label``, ``area`` (pixels), ``centroid_y``, ``centroid_x``, the
bounding box ``bbox_top``, ``bbox_left``, ``bbox_bottom``, ``bbox_right`` (bottom/right exclusive, as numpy
slices), ``mean_intensity_c<k>`` per image channel and ``eccentricity`` (0 for a circle); a stack adds ``slice``.

scikit-image is imported by the functions that use it, so that predicting masks only does not pay for it.
"""

from __future__ import annotations

import colorsys
import csv
import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.utils.atomic import atomic_write_bytes, atomic_write_text

_RENAMED = {
    "centroid-0": "centroid_y",
    "centroid-1": "centroid_x",
    "bbox-0": "bbox_top",
    "bbox-1": "bbox_left",
    "bbox-2": "bbox_bottom",
    "bbox-3": "bbox_right",
}


def object_table(labels: np.ndarray, image: np.ndarray, slice_index: int | None = None) -> list[dict[str, Any]]:
    """One row per object of ``labels`` (``HxW``, 0 = background) measured on ``image`` (``HxW`` or ``HxWxC``)."""
    from skimage.measure import regionprops_table

    intensity = image if image.ndim == 3 else image[:, :, None]
    table = regionprops_table(
        labels,
        intensity_image=intensity.astype(np.float32, copy=False),
        properties=("label", "area", "centroid", "bbox", "intensity_mean", "eccentricity"),
    )
    columns: dict[str, Any] = {}
    for key, values in table.items():
        if key.startswith("intensity_mean"):
            key = f"mean_intensity_c{key.rsplit('-', 1)[-1] if '-' in key else 0}"
        columns[_RENAMED.get(key, key)] = values
    order = ["label", "area", *_RENAMED.values(), *sorted(k for k in columns if k.startswith("mean_")), "eccentricity"]
    rows = []
    for i in range(len(columns["label"])):
        row: dict[str, Any] = {} if slice_index is None else {"slice": slice_index}
        for key in order:
            value = columns[key][i]
            row[key] = int(value) if key in ("label", "area") or key.startswith("bbox") else round(float(value), 4)
        rows.append(row)
    return rows


def write_table(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> Path:
    """Write object rows as CSV (atomically); a header only when there is no object."""
    buffer = io.StringIO()
    header = list(rows[0]) if rows else ["label", "area", *_RENAMED.values(), "eccentricity"]
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def outlines(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``[(label, polygon (N, 2) as x, y)]``: each object's outer contour traced on its pixel edges' midpoints."""
    from skimage.measure import find_contours

    found = []
    for label in np.unique(labels[labels > 0]):
        ys, xs = np.nonzero(labels == label)
        top, left = ys.min() - 1, xs.min() - 1
        crop = np.pad(labels[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] == label, 1)
        contour = max(find_contours(crop.astype(np.float32), 0.5), key=len)
        found.append((int(label), np.stack([contour[:, 1] + left, contour[:, 0] + top], axis=1)))
    return found


def write_rois(path: str | os.PathLike[str], slices: Sequence[np.ndarray]) -> Path:
    """An ImageJ/Fiji ROI set: a ``.zip`` of one polygon ``.roi`` per object of each label image in ``slices``
    (one for an image, one per page for a stack: named ``<label>`` or ``<page>-<label>`` and placed on their
    page), written atomically; each ROI is encoded by ``roifile``'s :class:`ImagejRoi`."""
    try:
        from roifile import ImagejRoi
    except ImportError as exc:
        raise UnetzooError("--rois needs the roifile package: pip install roifile") from exc
    buffer = io.BytesIO()
    stack = len(slices) > 1
    with zipfile.ZipFile(buffer, "w") as archive:
        for page, labels in enumerate(slices, start=1):
            for label, polygon in outlines(labels):
                roi = ImagejRoi.frompoints(polygon, name=f"{page:04d}-{label:05d}" if stack else f"{label:05d}")
                if stack:
                    roi.position = page
                archive.writestr(f"{roi.name}.roi", roi.tobytes())
    return atomic_write_bytes(path, buffer.getvalue())


def colours(n: int) -> np.ndarray:
    """``n`` distinct RGB colours (uint8): hues spaced by the golden ratio, so neighbours in id differ."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    return np.array([colorsys.hsv_to_rgb(h, 0.85, 1.0) for h in hues], dtype=np.float32).reshape(-1, 3) * 255


def outline_overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """RGB uint8: the image (contrast-stretched) with each object's outline in its own colour."""
    from skimage.segmentation import find_boundaries

    from unetzoo.report.plots import overlay

    rgb = overlay(image, np.zeros(labels.shape, bool), (0, 0, 0))
    edge = find_boundaries(labels, mode="inner") & (labels > 0)
    palette = np.vstack([np.zeros((1, 3)), colours(int(labels.max(initial=0)))]).astype(np.uint8)
    rgb[edge] = palette[labels[edge]]
    return rgb
