"""Instance heads: targets, decoding and the post-processing search."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk
from skimage.morphology import h_maxima, reconstruction
from skimage.segmentation import find_boundaries

from unetzoo.data.instances import relabel
from unetzoo.errors import UnetzooError
from unetzoo.instances import HEADS, Decoding, components, get_head, seeded_watershed
from unetzoo.instances.decode import h_maxima_above, pack, remove_small
from unetzoo.instances.targets import (
    border_distance,
    boundary_classes,
    contact_levels,
    contact_pixels,
    distance_levels,
    inner_boundary,
    normalised_distance,
)
from unetzoo.instances.tune import tune, tune_zooms
from unetzoo.metrics.instances import aggregate_instances, instance_counts


def touching_discs(rng: np.random.Generator, n: int = 12, size: int = 128) -> np.ndarray:
    """Label image of ``n`` discs of radius 5-12 placed at random, later ones over earlier ones (so many touch)."""
    labels = np.zeros((size, size), np.int32)
    for k in range(1, n + 1):
        r = int(rng.integers(5, 13))
        cy, cx = rng.integers(r, size - r, size=2)
        labels[disk((cy, cx), r, shape=labels.shape)] = k
    present = np.unique(labels[labels > 0])
    lut = np.zeros(n + 1, np.int32)
    lut[present] = np.arange(1, present.size + 1)
    return lut[labels]


def one_hot(classes: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[classes].transpose(2, 0, 1)


def test_inner_boundary_equals_skimage() -> None:
    rng = np.random.default_rng(4)
    for labels in (touching_discs(rng), rng.integers(0, 4, (30, 41)), np.ones((5, 7), np.int32)):
        want = find_boundaries(labels, connectivity=1, mode="inner") & (labels > 0)
        assert np.array_equal(inner_boundary(labels), want)


def test_boundary_classes_separate_touching_objects() -> None:
    labels = np.zeros((8, 12), np.int32)
    labels[2:6, 1:6], labels[2:6, 6:11] = 1, 2  # two touching rectangles
    classes = boundary_classes(labels)
    assert set(np.unique(classes)) == {0, 1, 2}
    assert (classes[labels == 0] == 0).all()
    assert (classes[2:6, 5] == 2).all() and (classes[2:6, 6] == 2).all()  # both sides of the contact
    assert classes[3, 3] == 1 and classes[3, 8] == 1  # interiors stay interior
    assert (classes[2, 1:6] == 2).all()  # the outer contour too


def test_contact_pixels_are_where_two_objects_touch() -> None:
    labels = np.zeros((8, 14), np.int32)
    labels[2:6, 1:6], labels[2:6, 6:11], labels[1:3, 12:14] = 3, 7, 9  # two touching rectangles, one apart
    contact = contact_pixels(labels)
    assert (contact[2:6, 5] & contact[2:6, 6]).all()  # both sides of the contact line
    assert contact.sum() == 8  # nothing where an object meets background (the outer contour, the lone one)
    classes = contact_levels(labels, 4)
    assert (classes[contact] == 5).all() and (classes[~contact] == distance_levels(labels, 4)[~contact]).all()
    top_id = np.where(labels == 3, np.iinfo(np.uint16).max, labels).astype(np.uint16)  # ids may fill the dtype
    assert (contact_pixels(top_id) == contact).all()


def test_contact_pixels_against_brute_force() -> None:
    labels = touching_discs(np.random.default_rng(5), n=20, size=48)
    padded = np.pad(labels, 1)
    neighbours = [padded[1 + dy : 49 + dy, 1 + dx : 49 + dx] for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    want = (labels > 0) & np.any([(n > 0) & (n != labels) for n in neighbours], axis=0)
    assert want.any() and (contact_pixels(labels) == want).all()
    assert (border_distance(labels)[want] == 1).all()  # contacts replace only contour pixels


def test_border_distance_against_brute_force() -> None:
    labels = touching_discs(np.random.default_rng(1), n=5, size=40)
    got = border_distance(labels)
    ys, xs = np.mgrid[: labels.shape[0], : labels.shape[1]]
    inner = boundary_classes(labels) == 2
    for y, x in zip(*np.nonzero(labels), strict=True):
        contour = inner & (labels == labels[y, x])
        want = np.sqrt((ys[contour] - y) ** 2 + (xs[contour] - x) ** 2).min() + 1.0
        assert got[y, x] == pytest.approx(want)
    assert (got[labels == 0] == 0).all()


def test_distance_levels_put_every_object_top_level_at_its_centre() -> None:
    labels = touching_discs(np.random.default_rng(2))
    norm = normalised_distance(labels)
    levels = distance_levels(labels, 4)
    for k in range(1, labels.max() + 1):
        assert norm[labels == k].max() == pytest.approx(1.0)
        assert levels[labels == k].max() == 4
    assert set(np.unique(levels[labels > 0])) <= {1, 2, 3, 4} and (levels[labels == 0] == 0).all()


def test_normalised_distance_with_sparse_ids_equals_the_per_object_reference() -> None:
    labels = touching_discs(np.random.default_rng(3)).astype(np.uint16)
    labels[labels > 0] = labels[labels > 0] * 7 + 100  # ids with gaps, far above the object count
    distance = border_distance(labels)
    want = np.zeros(distance.shape)
    for k in np.unique(labels[labels > 0]):
        want[labels == k] = distance[labels == k] / distance[labels == k].max()
    np.testing.assert_allclose(normalised_distance(labels), want)


@pytest.mark.parametrize(("h", "level"), [(0.05, 0.5), (0.2, 0.3), (0.1, 0.8)])
def test_h_maxima_above_equals_skimage_on_the_whole_image(h: float, level: float) -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        image = ndimage.gaussian_filter(rng.random((64, 64)).astype(np.float32), 2.0)
        image = (image - image.min()) / (image.max() - image.min())
        want = h_maxima(image, h).astype(bool) & (image > level)
        residue = image - reconstruction(image - h, image)
        differ = h_maxima_above(image, h, level) != want
        assert np.all(np.abs(residue[differ] - h) < 1e-6)  # only float ties at exactly h may differ
        assert want.any() or not h_maxima_above(image, h, level).any()


def test_h_maxima_above_with_many_regions_equals_skimage() -> None:
    """Dozens of regions of every size, packed into one mosaic: the result is still scikit-image's."""
    rng = np.random.default_rng(5)
    image = ndimage.gaussian_filter(rng.random((200, 300)).astype(np.float32), 1.5)
    image = (image - image.min()) / (image.max() - image.min())
    h, level = 0.05, 0.5
    assert ndimage.label(image > level - h, structure=np.ones((3, 3)))[1] > 30
    want = h_maxima(image, h).astype(bool) & (image > level)
    residue = image - reconstruction(image - h, image)
    differ = h_maxima_above(image, h, level) != want
    assert want.sum() > 30 and np.all(np.abs(residue[differ] - h) < 1e-6)


def test_pack_places_rectangles_apart_inside_the_mosaic() -> None:
    rng = np.random.default_rng(6)
    shapes = [(int(a), int(b)) for a, b in rng.integers(1, 40, size=(50, 2))] + [(3, 200)]
    corners, (height, width) = pack(shapes)
    grown = np.zeros((height + 1, width + 1), np.int32)  # each rectangle and the 1-pixel gap below and right of it
    for (y, x), (h, w) in zip(corners, shapes, strict=True):
        assert y >= 0 and x >= 0 and y + h <= height and x + w <= width
        grown[y : y + h + 1, x : x + w + 1] += 1
    assert grown.max() == 1  # no rectangle overlaps another or its gap
    assert height * width < 3 * sum(h * w for h, w in shapes)


def test_remove_small_is_where_and_relabel() -> None:
    labels = touching_discs(np.random.default_rng(7), n=30)
    areas = np.bincount(labels.ravel())
    for min_area in (0, 1, int(np.median(areas[1:])), int(areas.max()) + 1):
        want = relabel(np.where(areas[labels] >= min_area, labels, 0))[0]
        np.testing.assert_array_equal(remove_small(labels, min_area), want)
    gaps = np.where(labels == 3, 0, labels)  # an id missing: renumbered even when nothing is dropped
    np.testing.assert_array_equal(remove_small(gaps, 0), relabel(gaps)[0])


@pytest.mark.parametrize("name", sorted(HEADS))
def test_perfect_probabilities_decode_to_the_objects(name: str) -> None:
    """Each head's own target, as one-hot probabilities, decodes back to the labels (the head's upper bound)."""
    head = HEADS[name]
    counts = []
    for seed in range(5):
        labels = touching_discs(np.random.default_rng(seed))
        probs = one_hot(head.encode(labels), head.classes)
        counts.append(instance_counts(head.decode(probs, Decoding()), labels))
    scores = aggregate_instances(counts)
    assert scores["ap50"] >= 0.9 and scores["map"] >= 0.8
    merged = [instance_counts(components(labels > 0), labels) for labels in
              (touching_discs(np.random.default_rng(s)) for s in range(5))]  # fmt: skip
    assert scores["map"] > aggregate_instances(merged)["map"]  # touching discs merge as components


def test_decode_drops_small_objects_and_unseeded_regions() -> None:
    probs = np.zeros((3, 20, 20), np.float32)
    probs[0] = 1.0
    probs[:, 2:10, 2:10] = np.array([0.0, 1.0, 0.0])[:, None, None]  # an object with interior
    probs[:, 14:16, 14:16] = np.array([0.0, 1.0, 0.0])[:, None, None]  # a 4-pixel object
    probs[:, 14:18, 2:6] = np.array([0.0, 0.0, 1.0])[:, None, None]  # foreground without a seed
    labels = HEADS["boundary"].decode(probs, Decoding(min_area=5))
    assert labels.max() == 1 and (labels[2:10, 2:10] == 1).all() and labels.sum() == 64


def test_tune_improves_on_default_parameters() -> None:
    """Weak interiors and 2x2 specks of false interior: the search keeps a better map than the defaults and
    drops the specks by area."""
    head = HEADS["boundary"]
    probs, truths = [], []
    for seed in range(4):
        labels = touching_discs(np.random.default_rng(seed))
        p = one_hot(head.encode(labels), 3)
        p[1] = np.clip(p[1] * 0.4 + 0.3 * (labels > 0), 0, 1)  # interior 0.7 inside, boundary 0.3
        for y, x in np.random.default_rng(seed).integers(0, 126, size=(6, 2)):
            if not labels[y : y + 2, x : x + 2].any():
                p[:, y : y + 2, x : x + 2] = np.array([0.0, 1.0, 0.0])[:, None, None]
        probs.append(p)
        truths.append(labels)
    best, value = tune(head.decode, probs, truths)
    pairs = zip(probs, truths, strict=True)
    default = aggregate_instances(instance_counts(head.decode(p, Decoding()), t) for p, t in pairs)
    assert value > default["map"] and best.min_area > 4


def test_tune_in_two_processes_equals_tune_in_one() -> None:
    head = HEADS["distance"]
    rng = np.random.default_rng(8)
    truths = [touching_discs(rng) for _ in range(5)]
    probs = [one_hot(head.encode(t), head.classes) * 0.6 + rng.random((head.classes, *t.shape)) * 0.4 for t in truths]
    assert tune(head.decode, probs, truths, workers=2) == tune(head.decode, probs, truths)


def test_tune_zooms_keeps_the_zoom_that_scores_best_and_the_smallest_on_ties() -> None:
    """At zoom 1.25 the probabilities are exact; at the others every pixel is background (nothing found)."""
    head = HEADS["distance"]
    truths = [touching_discs(np.random.default_rng(seed)) for seed in range(3)]
    exact = [one_hot(head.encode(t), head.classes) for t in truths]
    blank = [one_hot(np.zeros_like(t, dtype=np.uint8), head.classes) for t in truths]
    asked: list[float] = []

    def probs_at(zoom: float) -> list[np.ndarray]:
        asked.append(zoom)
        return exact if zoom == 1.25 else blank

    best, value = tune_zooms(head.decode, probs_at, truths)
    assert asked == [1.0, 1.25, 1.5] and best.zoom == 1.25 and value > 0.5
    assert best == replace(tune(head.decode, exact, truths)[0], zoom=1.25)
    asked.clear()
    tie, _ = tune_zooms(head.decode, lambda zoom: asked.append(zoom) or exact, truths)
    assert tie.zoom == 1.0 and asked == [1.0, 1.25]  # no gain at 1.25: 1.5 is not tried


def test_unknown_head_is_one_line() -> None:
    with pytest.raises(UnetzooError, match="choose one of boundary, distance"):
        get_head("stardist")


def test_h_maxima_seeds_split_a_high_ridge_and_keep_a_faint_object() -> None:
    """Two touching objects whose seed map dips only to 0.75 between them, and a faint object peaking at 0.5:
    no threshold keeps all three apart, h-maxima seeds (dynamic 0.15) do."""
    yy, xx = np.mgrid[:40, :90].astype(np.float32)

    def cone(cx: float, top: float, radius: float) -> np.ndarray:
        return top * np.clip(1 - np.hypot(yy - 20, xx - cx) / radius, 0, 1)

    seed_map = np.maximum.reduce([cone(20, 1.0, 28), cone(34, 1.0, 28), cone(75, 0.5, 9)])
    foreground = seed_map > 0.05
    for threshold in (0.45, 0.85):  # the pair merges, or the faint object is lost
        assert seeded_watershed(seed_map, foreground, Decoding(seed=threshold)).max() == 2
    assert seeded_watershed(seed_map, foreground, Decoding(seed=0.3, h=0.15)).max() == 3
