"""Augmentation: image and mask stay aligned after every transform; presets; the U-Net elastic deformation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from unetzoo.data import AUGMENT_PRESETS, build_augment
from unetzoo.data.augment import (
    BrightnessContrast,
    Compose,
    Flip,
    Gamma,
    GaussianBlur,
    GaussianNoise,
    HueSaturationValue,
    Rot90,
    Warp,
)
from unetzoo.errors import UnetzooError

GEOMETRIC = {
    "flip": Flip(1.0, 1.0),
    "rot90": Rot90((1,)),
    "rotate": Warp(affine=1.0, rotate=40.0),
    "scale": Warp(affine=1.0, scale=(0.8, 1.25)),
    "shift": Warp(affine=1.0, shift=0.15),
    "shear": Warp(affine=1.0, shear=15.0),
    "elastic": Warp(elastic=1.0, sigma=10.0, grid=3),
    "affine+elastic": Warp(affine=1.0, rotate=30.0, scale=(0.8, 1.25), shift=0.1, shear=10.0, elastic=1.0),
}
INTENSITY = {
    "brightness/contrast": BrightnessContrast(1.0, 0.2, 0.3),
    "gamma": Gamma(1.0, (0.5, 2.0)),
    "hsv": HueSaturationValue(1.0, 20.0, 0.3, 0.3),
    "noise": GaussianNoise(1.0, 0.1),
    "blur": GaussianBlur(1.0, (1.0, 2.0)),
}


def blocks(h: int = 64, w: int = 64, block: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A mask of class-id blocks and an image whose every channel encodes the mask (c+1) x id."""
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((yy // block + 2 * (xx // block)) % 3).astype(np.int64)
    image = np.stack([mask * (c + 1) for c in range(3)], axis=-1).astype(np.float32)
    return image, mask


def assert_aligned(image: np.ndarray, mask: np.ndarray) -> None:
    """Where the output mask is one class over a 9x9 neighbourhood, the image must hold that class (bicubic
    taps reach 2 source px and warps magnify; the 4 px frame of reflected filler is left out). Overall, rounding
    the image must give the mask almost everywhere."""
    assert image.shape[:2] == mask.shape and image.dtype == np.float32 and mask.dtype == np.int64
    for class_id in np.unique(mask):
        core = ndimage.binary_erosion(mask == class_id, np.ones((9, 9)), border_value=0)
        for c in range(3):
            np.testing.assert_allclose(image[..., c][core], class_id * (c + 1), atol=0.02)
    agree = np.mean(np.rint(image[..., 0]) == mask)
    assert agree > 0.95, f"only {agree:.1%} of pixels agree"


@pytest.mark.parametrize("name", GEOMETRIC)
@pytest.mark.parametrize("seed", range(4))
def test_geometric_transforms_keep_alignment(name: str, seed: int) -> None:
    image, mask = blocks()
    out_image, out_mask = Compose((GEOMETRIC[name],))(image, mask, np.random.default_rng(seed))
    assert not np.array_equal(out_mask, mask), "the transform did nothing"
    assert set(np.unique(out_mask)) <= {0, 1, 2}
    assert_aligned(out_image, out_mask)


def test_misalignment_would_be_caught() -> None:
    image, mask = blocks()
    with pytest.raises(AssertionError):
        assert_aligned(np.roll(image, 3, axis=1), mask)


@pytest.mark.parametrize("name", INTENSITY)
def test_intensity_transforms_leave_the_mask(name: str) -> None:
    image, mask = blocks()
    image = image + np.random.default_rng(0).random(image.shape).astype(np.float32)
    out_image, out_mask = Compose((INTENSITY[name],))(image, mask, np.random.default_rng(1))
    np.testing.assert_array_equal(out_mask, mask)
    assert out_image.shape == image.shape and out_image.dtype == np.float32 and np.isfinite(out_image).all()
    assert not np.allclose(out_image, image)


@pytest.mark.parametrize("preset", list(AUGMENT_PRESETS))
def test_presets_geometry_aligned_and_deterministic(preset: str) -> None:
    augment = build_augment(preset)
    geometric = Compose(tuple(t for t in augment.transforms if isinstance(t, (Flip, Rot90, Warp))))
    image, mask = blocks()
    for seed in range(3):
        assert_aligned(*geometric(image, mask, np.random.default_rng(seed)))
        a = augment(image, mask, np.random.default_rng(seed))
        b = augment(image, mask, np.random.default_rng(seed))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert a[0].shape == image.shape and a[0].flags.c_contiguous and a[1].flags.c_contiguous


@settings(max_examples=30, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(8, 40), seed=st.integers(0, 2**32 - 1))
def test_exact_transforms_on_any_shape(h: int, w: int, seed: int) -> None:
    mask = np.random.default_rng(seed).integers(0, 4, size=(h, w))
    image = np.stack([mask, 2 * mask], axis=-1).astype(np.float32)
    out_image, out_mask = Compose((Flip(), Rot90()))(image, mask, np.random.default_rng(seed))
    np.testing.assert_array_equal(out_image[..., 0], out_mask)
    np.testing.assert_array_equal(out_image[..., 1], 2 * out_mask)
    assert out_mask.shape == mask.shape if h != w else out_mask.size == mask.size


def test_elastic_matches_unet_paper_statistics() -> None:
    """3x3 coarse grid, displacements ~ N(0, 10 px): at the centre node the displacement is the node's vector."""
    n = 33
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    image, mask = np.stack([yy, xx, yy], axis=-1), np.zeros((n, n), np.int64)
    warp = Warp(elastic=1.0, sigma=10.0, grid=3)
    shifts = np.array([warp(image, mask, np.random.default_rng(s))[0][n // 2, n // 2, :2] - n // 2 for s in range(300)])
    inside = np.all(np.abs(shifts) < n // 2 - 2, axis=1)  # clamped/reflected samples excluded
    assert 7.0 < shifts[inside].std() < 11.0
    assert abs(shifts[inside].mean()) < 1.5


def test_unknown_preset() -> None:
    with pytest.raises(UnetzooError, match="unknown augmentation preset"):
        build_augment("heavy")
    assert set(AUGMENT_PRESETS) == {"none", "unet", "pyconv", "sdunet", "unetsharp", "ulite", "default"}
