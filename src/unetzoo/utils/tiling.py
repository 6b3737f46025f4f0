"""Tiled inference with Gaussian blending and flip test-time augmentation, for any array library.

One implementation serves the torch engine (``unetzoo.engine.sliding_window``) and the torch-free ONNX
runtime (``unetzoo.deploy.tiling``): each passes its own ``stack``/``zeros``/``flip`` functions, so both
cut the same tile grid, weight with the same Gaussian map and agree to float rounding. Images larger than
the tile are cut into overlapping tiles; each tile's probabilities are weighted by a Gaussian importance
map (centre trusted more than borders, sigma = ``sigma_scale`` x tile, as nnU-Net and MONAI do) and
accumulated, so memory is bounded by the tile batch plus one output-sized accumulator. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

A = TypeVar("A")  # an array type: np.ndarray or torch.Tensor
FLIPS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


def gaussian_map(height: int, width: int, sigma_scale: float = 0.125) -> np.ndarray:
    """Separable Gaussian importance map (float32), max 1, floored at 1e-3 so corners keep some weight."""

    def axis(n: int) -> np.ndarray:
        coords = np.arange(n, dtype=np.float32) - np.float32((n - 1) / 2)
        return np.exp(np.float32(-0.5) * (coords / np.float32(max(sigma_scale * n, 1e-6))) ** 2)

    g = axis(height)[:, None] * axis(width)[None, :]
    return np.maximum(g / g.max(), np.float32(1e-3)).astype(np.float32)


def tile_starts(size: int, tile: int, overlap: float) -> list[int]:
    """Start offsets covering [0, size) with tiles of ``tile`` and the given fractional overlap."""
    if size <= tile:
        return [0]
    step = max(1, round(tile * (1.0 - overlap)))
    starts = list(range(0, size - tile + 1, step))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    return starts


def blend_tiles(
    predictor: Callable[[A], A],
    image: A,
    *,
    stack: Callable[[Sequence[A]], A],
    zeros: Callable[[tuple[int, ...]], A],
    as_array: Callable[[np.ndarray], Any],
    tile: tuple[int, int] = (512, 512),
    overlap: float = 0.25,
    batch_size: int = 4,
    sigma_scale: float = 0.125,
) -> A:
    """Probabilities (K, H, W) for one image (C, H, W), tiling with Gaussian blending when it exceeds ``tile``.

    Args:
        predictor: (N, C, h, w) -> (N, K, h, w) probabilities.
        stack, zeros, as_array: the array library's ``stack``, float32 ``zeros(shape)`` and conversion of
            the NumPy Gaussian map.
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    _, height, width = image.shape  # type: ignore[attr-defined]
    th, tw = min(tile[0], height), min(tile[1], width)
    if (th, tw) == (height, width):
        return predictor(image[None])[0]  # type: ignore[index]
    weight = as_array(gaussian_map(th, tw, sigma_scale))
    windows = [(y, x) for y in tile_starts(height, th, overlap) for x in tile_starts(width, tw, overlap)]
    acc: Any = None
    norm = zeros((height, width))
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size]
        probs: Any = predictor(stack([image[:, y : y + th, x : x + tw] for y, x in chunk]))  # type: ignore[index]
        if acc is None:
            acc = zeros((probs.shape[1], height, width))
        for p, (y, x) in zip(probs, chunk, strict=True):
            acc[:, y : y + th, x : x + tw] += p * weight
            norm[y : y + th, x : x + tw] += weight  # type: ignore[index]
    return acc / norm


def flip_tta(predictor: Callable[[A], A], flip: Callable[[A, tuple[int, ...]], A]) -> Callable[[A], A]:
    """Average a predictor's probabilities over identity, horizontal, vertical and both flips."""

    def run(x: A) -> A:
        total: Any = None
        for dims in FLIPS:
            p = predictor(flip(x, dims) if dims else x)
            p = flip(p, dims) if dims else p
            total = p if total is None else total + p
        return total / len(FLIPS)

    return run
