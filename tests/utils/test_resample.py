"""The shared resampler against torch's antialiased bilinear interpolation, and the Resampling record."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unetzoo.errors import UnetzooError
from unetzoo.utils.resample import Resampling, apply_to_image, probabilities_back, resize, resize_labels


def _torch_reference(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    out = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return out[0].numpy().transpose(1, 2, 0)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((100, 80), (37, 50)), ((346, 512), (195, 288)), ((64, 64), (128, 200)), ((7, 9), (3, 30)), ((5, 5), (1, 1))],
)
def test_resize_equals_torch_antialiased_bilinear(shape: tuple[int, int], size: tuple[int, int]) -> None:
    image = np.random.default_rng(0).random((*shape, 3)).astype(np.float32)
    np.testing.assert_allclose(resize(image, size), _torch_reference(image, size), atol=2e-5)
    np.testing.assert_allclose(resize(image[..., 0], size), _torch_reference(image, size)[..., 0], atol=2e-5)


def test_resize_keeps_constants_and_identity() -> None:
    flat = np.full((33, 47, 2), 7.0, np.float32)
    np.testing.assert_allclose(resize(flat, (10, 91)), 7.0, rtol=1e-6)
    assert resize(flat, (33, 47)) is flat
    with pytest.raises(UnetzooError, match="at least 1 pixel"):
        resize(flat, (0, 4))


def test_resize_labels_votes_by_area_so_thin_structures_survive() -> None:
    labels = np.zeros((40, 40), np.int64)
    labels[:, 18:21] = 1  # a 3-px line covers most of the footprint of the output column it crosses
    small = resize_labels(labels, (20, 20), classes=2)
    assert small.dtype == labels.dtype and small.shape == (20, 20)
    assert (small == 1).any(axis=1).all() and (small == 1).sum() == 20
    labels[:, 18:21] = 0
    labels[:, 19] = 1  # a 1-px line covers a quarter of it at most: the vote gives the pixels to the background
    assert (resize_labels(labels, (20, 20), classes=2) == 0).all()
    assert set(np.unique(resize_labels(labels * 2, (10, 10), classes=3))) <= {0, 2}


def test_probabilities_back_restores_the_original_size() -> None:
    probs = np.random.default_rng(1).random((2, 12, 18)).astype(np.float32)
    back = probabilities_back(probs, (25, 35))
    assert back.shape == (2, 25, 35)
    np.testing.assert_allclose(back, _torch_reference(probs.transpose(1, 2, 0), (25, 35)).transpose(2, 0, 1), atol=2e-5)


def test_resampling_record() -> None:
    assert Resampling().target_size(30, 40) == (30, 40) and Resampling().is_native
    assert Resampling("scale", scale=0.5).target_size(31, 40) == (16, 20)
    assert Resampling("resize", size=(64, 32)).target_size(300, 20) == (64, 32)
    for record in (Resampling(), Resampling("scale", scale=0.25), Resampling("resize", size=(16, 24))):
        assert Resampling.from_dict(record.to_dict()) == record
    assert Resampling.from_dict(None) == Resampling()
    image = np.zeros((10, 10, 1), np.float32)
    assert apply_to_image(image, Resampling()) is image
    with pytest.raises(UnetzooError, match="--scale"):
        Resampling("scale", scale=0.0)
    with pytest.raises(UnetzooError, match="--resize"):
        Resampling("resize", size=(4, 64))
    with pytest.raises(UnetzooError, match="unknown keys"):
        Resampling.from_dict({"mode": "native", "zoom": 2})
