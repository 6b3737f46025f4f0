"""Joint image/mask augmentation, and the presets of the papers.

Every transform is ``t(image HxWxC float32, mask HxW int64, rng) -> (image, mask)``: geometry moves image and mask
together (the mask with nearest neighbour, so class ids stay exact), intensity changes touch the image only.
All randomness comes from ``rng``, so a sample is reproducible from its seed (see ``SegmentationDataset``).
Intensity changes are relative to the image's own range, so they act alike on 8-bit, 16-bit and normalized data.

Affine and elastic deformation share one resampling (:class:`Warp`, ``torch.nn.functional.grid_sample``, bicubic
on the image, mirror-reflected borders as in the U-Net paper). The elastic deformation is the U-Net paper's
(Ronneberger et al. 2015, Sec. 3.1): random displacement vectors on a coarse 3x3 grid drawn from a Gaussian with
10 px standard deviation, per-pixel displacements by bicubic interpolation. No third-party augmentation library
is used: torchvision does not import beside the CPU torch here, albumentations is abandoned (its successor is
AGPL), and kornia/MONAI would add a dependency for a few short transforms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from unetzoo.errors import UnetzooError

Pair = tuple[np.ndarray, np.ndarray]
Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], Pair]


def _span(image: np.ndarray) -> tuple[float, float]:
    lo, hi = float(image.min()), float(image.max())
    return lo, (hi - lo) or 1.0


@dataclass(frozen=True)
class Flip:
    """Mirror left-right with probability ``horizontal`` and up-down with probability ``vertical``."""

    horizontal: float = 0.5
    vertical: float = 0.5

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() < self.horizontal:
            image, mask = image[:, ::-1], mask[:, ::-1]
        if rng.random() < self.vertical:
            image, mask = image[::-1], mask[::-1]
        return image, mask


@dataclass(frozen=True)
class Rot90:
    """Rotate by ``k`` x 90 degrees, ``k`` drawn from ``ks`` (odd ``k`` only for square images)."""

    ks: tuple[int, ...] = (0, 1, 2, 3)

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        k = int(rng.choice(self.ks))
        if k % 2 and image.shape[0] != image.shape[1]:
            k = 2 * (k // 2)
        return np.rot90(image, k, axes=(0, 1)), np.rot90(mask, k)


@dataclass(frozen=True)
class Warp:
    """Random affine (rotation, scale, shift, shear) and/or elastic deformation in one resampling.

    Args:
        affine: probability of the affine part.
        rotate: rotation uniform in +-``rotate`` degrees.
        scale: zoom factor log-uniform in ``[scale[0], scale[1]]`` (> 1 magnifies).
        shift: translation uniform in +-``shift`` x image size, per axis.
        shear: shear uniform in +-``shear`` degrees.
        elastic: probability of the elastic part (U-Net paper, Sec. 3.1).
        sigma: standard deviation (px) of the coarse-grid displacements.
        grid: coarse grid size (3 in the paper).
    """

    affine: float = 0.0
    rotate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    shift: float = 0.0
    shear: float = 0.0
    elastic: float = 0.0
    sigma: float = 10.0
    grid: int = 3

    def _affine(self, rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Output -> input matrix and offset about the image centre."""
        theta = np.deg2rad(rng.uniform(-self.rotate, self.rotate))
        zoom = np.exp(rng.uniform(np.log(self.scale[0]), np.log(self.scale[1])))
        shear = np.deg2rad(rng.uniform(-self.shear, self.shear))
        shift = rng.uniform(-self.shift, self.shift, size=2) * (h, w)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        matrix = rotation @ np.array([[1.0, np.tan(shear)], [0.0, 1.0]]) / zoom  # acts on (y, x)
        centre = np.array([(h - 1) / 2, (w - 1) / 2])
        return matrix, centre - matrix @ (centre + shift)

    def _displacement(self, rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel (dy, dx): N(0, sigma) vectors on the coarse grid, bicubically interpolated (separably)."""
        coarse = rng.normal(0.0, self.sigma, size=(2, self.grid, self.grid)).astype(np.float32)
        wy, wx = _cubic_weights(h, self.grid), _cubic_weights(w, self.grid)
        return wy @ coarse[0] @ wx.T, wy @ coarse[1] @ wx.T

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        do_affine, do_elastic = rng.random() < self.affine, rng.random() < self.elastic
        if not (do_affine or do_elastic):
            return image, mask
        h, w = mask.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)  # numpy, not tensor ops: see _cubic_weights
        if do_affine:
            matrix, offset = (a.astype(np.float32) for a in self._affine(rng, h, w))
            yy, xx = (
                matrix[0, 0] * yy + matrix[0, 1] * xx + offset[0],
                matrix[1, 0] * yy + matrix[1, 1] * xx + offset[1],
            )
        if do_elastic:
            dy, dx = self._displacement(rng, h, w)
            yy, xx = yy + dy, xx + dx
        grid = np.stack([xx * np.float32(2 / max(w - 1, 1)) - 1, yy * np.float32(2 / max(h - 1, 1)) - 1], axis=-1)
        where = torch.from_numpy(grid)[None]
        planes = np.ascontiguousarray(image.transpose(2, 0, 1))
        warped = F.grid_sample(
            torch.from_numpy(planes)[None], where, mode="bicubic", padding_mode="reflection", align_corners=True
        )[0].numpy()
        lo, hi = planes.min(axis=(1, 2)), planes.max(axis=(1, 2))
        warped = np.clip(warped.transpose(1, 2, 0), lo, hi)  # bicubic overshoot stays in the input's range
        ids = torch.from_numpy(mask.astype(np.float32))[None, None]
        moved = F.grid_sample(ids, where, mode="nearest", padding_mode="reflection", align_corners=True)[0, 0]
        return warped, moved.numpy().astype(mask.dtype)


@lru_cache(maxsize=64)
def _cubic_weights(n: int, grid: int) -> np.ndarray:
    """``(n, grid)`` weights of bicubic interpolation (align_corners) from ``grid`` coarse nodes to ``n`` pixels,
    as ``F.interpolate(mode="bicubic")`` computes them; computed once, applied with two small matrix products
    (tensor ops on 2 cores busy with training were 10-30x slower than this)."""
    basis = torch.eye(grid, dtype=torch.float64)[:, None, :, None]
    weights = F.interpolate(basis, size=(n, 1), mode="bicubic", align_corners=True)[:, 0, :, 0]
    return np.ascontiguousarray(weights.T.numpy(), dtype=np.float32)


@dataclass(frozen=True)
class BrightnessContrast:
    """Add ``b`` x range (``b`` in +-``brightness``) and scale deviations from the mean by 1 +- ``contrast``."""

    p: float = 0.5
    brightness: float = 0.1
    contrast: float = 0.2

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        _, span = _span(image)
        b, c = rng.uniform(-self.brightness, self.brightness), rng.uniform(1 - self.contrast, 1 + self.contrast)
        mean = image.mean()
        return ((image - mean) * c + mean + b * span).astype(np.float32), mask


@dataclass(frozen=True)
class Gamma:
    """Gamma log-uniform in ``gamma`` on the image rescaled to its own [min, max]."""

    p: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.5)

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        lo, span = _span(image)
        g = np.exp(rng.uniform(np.log(self.gamma[0]), np.log(self.gamma[1])))
        return (lo + span * np.power((image - lo) / span, g)).astype(np.float32), mask


_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


@dataclass(frozen=True)
class HueSaturationValue:
    """Colour jitter: hue rotation (+-``hue`` degrees) and saturation scaling (1 +- ``saturation``) of the chroma
    in YIQ space (a linear stand-in for HSV), value scaling (1 +- ``value``) of the luma. Gray images get the
    value scaling only."""

    p: float = 0.5
    hue: float = 10.0
    saturation: float = 0.2
    value: float = 0.2

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        angle = np.deg2rad(rng.uniform(-self.hue, self.hue))
        sat = rng.uniform(1 - self.saturation, 1 + self.saturation)
        val = rng.uniform(1 - self.value, 1 + self.value)
        lo, _ = _span(image)
        if image.shape[2] != 3:
            return (lo + (image - lo) * val).astype(np.float32), mask
        chroma = sat * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        yiq = np.eye(3, dtype=np.float32)
        yiq[0, 0], yiq[1:, 1:] = val, chroma
        matrix = (_YIQ_TO_RGB @ yiq @ _RGB_TO_YIQ).astype(np.float32)
        return (lo + (image - lo) @ matrix.T).astype(np.float32), mask


@dataclass(frozen=True)
class GaussianNoise:
    """Add Gaussian noise with standard deviation uniform in [0, ``sigma``] x the image range."""

    p: float = 0.2
    sigma: float = 0.05

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        _, span = _span(image)
        noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0, self.sigma) * span)
        return image + noise, mask


@dataclass(frozen=True)
class GaussianBlur:
    """Blur each channel with a Gaussian of sigma (px) uniform in ``sigma``."""

    p: float = 0.2
    sigma: tuple[float, float] = (0.5, 1.5)

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, mask
        s = rng.uniform(*self.sigma)
        return ndimage.gaussian_filter(image, sigma=(s, s, 0), mode="reflect"), mask


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order; returns contiguous arrays."""

    transforms: tuple[Transform, ...] = ()

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
        for transform in self.transforms:
            image, mask = transform(image, mask, rng)
        return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(mask)


def _presets() -> dict[str, tuple[str, Sequence[Transform]]]:
    return {
        "none": ("no augmentation", ()),
        "unet": (
            "U-Net (Ronneberger 2015, Sec. 3.1): elastic 3x3 grid sigma 10 px, shift, rotation, gray values",
            (
                Warp(affine=1.0, rotate=180.0, shift=0.1, elastic=1.0, sigma=10.0, grid=3),
                BrightnessContrast(p=0.5, brightness=0.1, contrast=0.2),
                Gamma(p=0.3, gamma=(0.8, 1.25)),
            ),
        ),
        "pyconv": ("PyConvU-Net: flips and 90/180 degree rotations", (Flip(), Rot90(ks=(0, 1, 2)))),
        "sdunet": (
            "SD-UNet: horizontal flip, zoom +-5%, shift +-5%",
            (Flip(horizontal=0.5, vertical=0.0), Warp(affine=1.0, scale=(0.95, 1.05), shift=0.05)),
        ),
        "unetsharp": (
            "UNet#: rot90, flips, HSV, brightness/contrast",
            (Rot90(), Flip(), HueSaturationValue(p=0.5), BrightnessContrast(p=0.5, brightness=0.1, contrast=0.2)),
        ),
        "ulite": ("U-Lite: flips and rotation +-15 degrees", (Flip(), Warp(affine=1.0, rotate=15.0))),
        "default": (
            "flips, rot90, affine (p 0.5), elastic (p 0.3), brightness/contrast, gamma, noise, blur",
            (
                Flip(),
                Rot90(),
                Warp(affine=0.5, rotate=30.0, scale=(0.8, 1.25), shift=0.1, shear=10.0, elastic=0.3),
                BrightnessContrast(p=0.5, brightness=0.1, contrast=0.25),
                Gamma(p=0.3, gamma=(0.7, 1.5)),
                GaussianNoise(p=0.2, sigma=0.05),
                GaussianBlur(p=0.2, sigma=(0.5, 1.5)),
            ),
        ),
    }


AUGMENT_PRESETS: dict[str, str] = {name: description for name, (description, _) in _presets().items()}
"""Preset name -> one-line description (``build_augment`` builds them)."""


def build_augment(name: str) -> Compose:
    """The augmentation preset ``name`` (see :data:`AUGMENT_PRESETS`) as one callable."""
    presets = _presets()
    if name not in presets:
        raise UnetzooError(f"unknown augmentation preset {name!r}; choose one of {', '.join(presets)}", exit_code=2)
    return Compose(tuple(presets[name][1]))
