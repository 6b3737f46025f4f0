"""Object measurements, ImageJ ROIs and outline overlays against independent computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from roifile import roiread
from skimage.draw import polygon2mask

from unetzoo.instances.measure import colours, object_table, outline_overlay, write_rois, write_table


def labels_and_image() -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros((40, 50), np.int32)
    labels[5:15, 10:30] = 3  # a 10x20 rectangle
    labels[20:36, 5:21] = 7  # a 16x16 square
    image = np.stack([labels * 10.0, np.full(labels.shape, 2.0)], axis=-1)
    return labels, image


def test_object_table_matches_hand_computed_values() -> None:
    labels, image = labels_and_image()
    rows = object_table(labels, image)
    assert [r["label"] for r in rows] == [3, 7]
    rect, square = rows
    assert rect["area"] == 200 and (rect["bbox_top"], rect["bbox_left"], rect["bbox_bottom"], rect["bbox_right"]) == (
        5,
        10,
        15,
        30,
    )
    assert rect["centroid_y"] == pytest.approx(9.5) and rect["centroid_x"] == pytest.approx(19.5)
    assert rect["mean_intensity_c0"] == 30.0 and rect["mean_intensity_c1"] == 2.0
    assert square["eccentricity"] == pytest.approx(0.0, abs=1e-6) and rect["eccentricity"] > 0.8
    assert object_table(labels, image, slice_index=4)[0]["slice"] == 4


def test_rois_enclose_their_objects(tmp_path: Path) -> None:
    labels, _ = labels_and_image()
    write_rois(tmp_path / "r.zip", [labels])
    rois = roiread(tmp_path / "r.zip")
    assert [r.name for r in rois] == ["00003", "00007"]
    for roi, label in zip(rois, (3, 7), strict=True):
        xy = roi.coordinates()
        inside = polygon2mask(labels.shape, xy[:, ::-1])
        assert (inside == (labels == label)).mean() > 0.97  # the traced outline runs on pixel-edge midpoints
    write_rois(tmp_path / "s.zip", [labels, np.zeros_like(labels), labels])
    stack = roiread(tmp_path / "s.zip")
    assert len(stack) == 4 and {r.position for r in stack} == {1, 3}
    write_rois(tmp_path / "e.zip", [np.zeros_like(labels)])
    assert not roiread(tmp_path / "e.zip")  # an image without objects gives an empty ROI set


def test_empty_table_keeps_its_header(tmp_path: Path) -> None:
    write_table(tmp_path / "t.csv", [])
    assert (tmp_path / "t.csv").read_text().startswith("label,area,centroid_y")


def test_outlines_have_distinct_colours() -> None:
    labels, image = labels_and_image()
    rgb = outline_overlay(image, labels)
    edge = {tuple(rgb[5, 15]), tuple(rgb[20, 10])}
    assert len(edge) == 2 and rgb.dtype == np.uint8
    palette = colours(50)
    assert len({tuple(c) for c in palette.astype(int)}) == 50
