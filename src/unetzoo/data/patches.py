"""Where a training sample's patch is cut: at random, or centred on a foreground pixel (nnU-Net's oversampling).

NumPy only, so the training configuration can name its default without importing torch.
"""

from __future__ import annotations

import numpy as np


def random_patch(
    image: np.ndarray,
    mask: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    centre: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A random ``size`` (H, W) window, or the window centred on pixel ``centre`` (moved inside the image);
    images smaller than ``size`` are first padded by reflection."""
    h, w = mask.shape
    ph, pw = max(size[0] - h, 0), max(size[1] - w, 0)
    if ph or pw:
        pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
        image = np.pad(image, (*pads, (0, 0)), mode="reflect")
        mask = np.pad(mask, pads, mode="reflect")
        h, w = mask.shape
    if centre is None:
        y = int(rng.integers(0, h - size[0] + 1))
        x = int(rng.integers(0, w - size[1] + 1))
    else:
        y = min(max(centre[0] + ph // 2 - size[0] // 2, 0), h - size[0])
        x = min(max(centre[1] + pw // 2 - size[1] // 2, 0), w - size[1])
    return image[y : y + size[0], x : x + size[1]], mask[y : y + size[0], x : x + size[1]]


FOREGROUND_SHARE = 1 / 3
"""Share of training patches centred on a foreground pixel when the image is larger than the patch: nnU-Net's
``oversample_foreground_percent`` (Isensee et al., Nature Methods 2021), which keeps patches from large images with
small, sparse objects from being mostly background. The class is drawn uniformly among the foreground classes
present, then the pixel among that class's pixels, so a rare class is centred as often as a common one."""

LOCATIONS = 2_000
"""Pixels kept per class for :data:`FOREGROUND_SHARE` centres: a random subset (nnU-Net keeps 10,000 per 3D case;
a 2D image needs fewer, and the dataset keeps them for every image larger than the patch)."""


def class_locations(target: np.ndarray, seed: int) -> list[np.ndarray]:
    """Up to :data:`LOCATIONS` ``(y, x)`` pixels of each foreground class (id > 0) present in ``target``."""
    rng = np.random.default_rng(seed)
    found = []
    for k in np.unique(target[target > 0]):
        pixels = np.argwhere(target == k)
        if len(pixels) > LOCATIONS:
            pixels = pixels[rng.choice(len(pixels), LOCATIONS, replace=False)]
        found.append(pixels.astype(np.int32))
    return found
