"""Object size: the diameter measure, the scale factor, and the two-pass estimate of :class:`ObjectSizer`.

The network is replaced by an exact one (the distance head's classes of the image's own objects, one-hot), so
what is tested is the scale logic: resampling, decoding at the original size, ``min_area`` and the estimate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import disk
from skimage.segmentation import watershed

from unetzoo.errors import UnetzooError
from unetzoo.instances import Decoding, get_head
from unetzoo.instances.scale import (
    ObjectSizer,
    RescaledSegmenter,
    at_scale,
    mean_diameter,
    median_diameter,
    rescaled,
    scale_factor,
    seen_sizes,
)
from unetzoo.instances.segmenter import InstanceSegmenter

HEAD = get_head("distance")


class ExactNetwork:
    """Probabilities of the distance head that are exactly right for the bright disks of an image."""

    threshold = 0.5

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        labels, _ = ndimage.label(np.asarray(image) > 127)
        classes = HEAD.encode(labels)
        return np.eye(HEAD.classes, dtype=np.float32)[classes].transpose(2, 0, 1)


class TouchingNetwork:
    """Exact distance-head probabilities for bright disks that touch: each disk is split from its neighbours by
    the watershed of the image's distance transform, as the ground truth of touching nuclei would be. With
    ``binary``, one foreground probability (a semantic model)."""

    threshold = 0.5

    def __init__(self, binary: bool = False) -> None:
        self.binary = binary

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        inside = np.asarray(image) > 127
        if self.binary:
            return inside[None].astype(np.float32)
        distance = ndimage.distance_transform_edt(inside)
        markers, _ = ndimage.label(distance > 0.7 * distance.max())
        labels = watershed(-distance, markers, mask=inside)
        return np.eye(HEAD.classes, dtype=np.float32)[HEAD.encode(labels)].transpose(2, 0, 1)


def disks(diameter: float, size: int = 256, spacing: float = 2.2) -> np.ndarray:
    """A gray image of separate bright disks of ``diameter`` px on a grid."""
    image = np.zeros((size, size), np.uint8)
    step = int(diameter * spacing)
    for y in range(step // 2, size - step // 2, step):
        for x in range(step // 2, size - step // 2, step):
            image[disk((y, x), diameter / 2, shape=image.shape)] = 255
    return image


def test_median_diameter_is_the_equivalent_diameter() -> None:
    labels = np.zeros((100, 100), np.int32)
    labels[disk((25, 25), 10, shape=labels.shape)] = 1
    labels[disk((70, 70), 10, shape=labels.shape)] = 2
    labels[:4, 90:94] = 3  # 16 px: the median is a disk's
    area = np.count_nonzero(labels == 1)
    assert median_diameter(labels) == pytest.approx(2 * math.sqrt(area / math.pi))
    assert median_diameter(np.zeros((5, 5), np.int32)) is None


@pytest.mark.parametrize(("size", "message"), [(0.0, "positive"), (-3.0, "positive"), (100.0, "more than 4x off")])
def test_bad_sizes_are_refused(size: float, message: str) -> None:
    with pytest.raises(UnetzooError, match=message):
        scale_factor(20.0, size)
    assert scale_factor(20.0, 10.0) == 2.0


def test_at_scale_keeps_objects_in_the_original_pixels() -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding(0.5, 0.5, min_area=40))
    view = at_scale(objects, 2.0)
    assert view.decoding.min_area == 10 and at_scale(objects, 1.0) is objects
    image = disks(12)
    probs = view.probabilities(image)
    assert probs.shape == (HEAD.classes, *image.shape)
    labels = view.decode(probs)
    assert labels.max() == ndimage.label(image > 127)[1]


class ShapeRecorder(ExactNetwork):
    """:class:`ExactNetwork` that records the size of every image it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        self.seen.append(np.asarray(image).shape[:2])
        return super().probabilities(image, source)


def test_zoom_runs_the_network_on_the_enlarged_image() -> None:
    network = ShapeRecorder()
    image = disks(12, size=64)
    for zoom, seen in ((1.0, (64, 64)), (1.5, (96, 96))):
        objects = InstanceSegmenter(network, HEAD, Decoding(0.5, 0.5, zoom=zoom))
        probs = objects.probabilities(image)
        assert network.seen[-1] == seen and probs.shape == (HEAD.classes, 64, 64)
        assert objects.decode(probs).max() == ndimage.label(image > 127)[1]
    assert Decoding.from_dict({"foreground": 0.6}).zoom == 1.0  # records from before the zoom existed
    carded = InstanceSegmenter.from_record(network, {"head": "distance", "decoding": {"zoom": 1.5}})
    carded.probabilities(image)  # a model card's record (the ONNX runtime's path) carries the zoom too
    assert network.seen[-1] == (96, 96)
    sized = at_scale(InstanceSegmenter(network, HEAD, Decoding(zoom=1.5)), 2.0)
    sized.probabilities(image)
    assert network.seen[-1] == (192, 192)  # the object scale and the zoom multiply


def test_rescaling_a_rescaled_segmenter_multiplies_the_factors() -> None:
    network = ShapeRecorder()
    twice = rescaled(rescaled(network, 2.0), 1.5)
    assert isinstance(twice, RescaledSegmenter) and twice.segmenter is network and twice.factor == 3.0
    assert rescaled(network, 1.0) is network


@pytest.mark.parametrize("diameter", [10.0, 40.0])
def test_the_estimate_brings_objects_to_the_trained_size(diameter: float) -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding(0.5, 0.5, min_area=0))
    result = ObjectSizer(objects, trained_size=20.0).run(disks(diameter))
    assert result.estimated and result.factor == pytest.approx(20.0 / diameter, rel=0.1)
    assert result.object_size == pytest.approx(diameter, rel=0.1)
    assert result.record()["scale_factor"] == round(result.factor, 4)


def test_an_estimate_near_the_trained_size_keeps_the_first_pass() -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding())
    result = ObjectSizer(objects, trained_size=20.0).run(disks(18))
    assert result.factor == 1.0 and result.objects is objects
    empty = ObjectSizer(objects, trained_size=20.0).run(np.zeros((64, 64), np.uint8))
    assert empty.object_size is None and empty.factor == 1.0


def test_an_estimate_inside_the_seen_range_keeps_the_first_pass() -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding(0.5, 0.5, min_area=0))
    sizer = ObjectSizer(objects, trained_size=20.0, seen=(12.0, 36.0))
    kept = sizer.run(disks(30))  # 1.5x the trained size, but the model met such objects in training
    assert kept.factor == 1.0 and kept.objects is objects and kept.object_size == pytest.approx(30, rel=0.1)
    small = sizer.run(disks(8))  # below the range: brought to the trained size
    assert small.factor == pytest.approx(20.0 / 8, rel=0.1) and small.object_size == pytest.approx(8, rel=0.1)


def test_seen_sizes_are_the_central_range_of_per_image_sizes() -> None:
    assert seen_sizes([float(d) for d in range(1, 102)]) == (11.0, 91.0)
    assert seen_sizes([5.0, 7.0], quantiles=(0.0, 1.0)) == (5.0, 7.0)


def test_a_given_size_is_used_as_is() -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding())
    result = ObjectSizer(objects, trained_size=20.0, object_size=40.0).run(disks(40))
    assert not result.estimated and result.factor == 0.5 and result.object_size == 40.0
    with pytest.raises(UnetzooError, match="more than 4x"):
        ObjectSizer(objects, trained_size=20.0, object_size=1.0)


def test_mean_diameter_counts_seeds_without_decoding() -> None:
    objects = InstanceSegmenter(ExactNetwork(), HEAD, Decoding(0.5, 0.5))
    image = disks(20)
    probs = objects.probabilities(image)
    labels = objects.decode(probs)
    assert mean_diameter(objects, probs) == pytest.approx(median_diameter(labels), rel=0.02)
    pair = np.zeros((64, 96), np.uint8)  # two touching disks: two seeds over the area of both
    pair[disk((32, 30), 14, shape=pair.shape)] = 255
    pair[disk((32, 54), 14, shape=pair.shape)] = 255
    touching = InstanceSegmenter(TouchingNetwork(), HEAD, Decoding(0.5, 0.5))
    area = float((pair > 127).sum())
    assert mean_diameter(touching, touching.probabilities(pair)) == pytest.approx(2 * math.sqrt(area / 2 / math.pi))
    semantic = InstanceSegmenter(TouchingNetwork(binary=True))  # no head: connected components are the objects
    assert mean_diameter(semantic, semantic.probabilities(pair)) == pytest.approx(2 * math.sqrt(area / math.pi))
    assert mean_diameter(objects, objects.probabilities(np.zeros((32, 32), np.uint8))) is None
