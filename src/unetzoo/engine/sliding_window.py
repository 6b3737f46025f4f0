"""Tiled inference with Gaussian blending, and flip test-time augmentation.

Images larger than the tile are cut into overlapping tiles; each tile's probabilities are weighted by a
Gaussian importance map (centre trusted more than borders, sigma = ``sigma_scale`` x tile, as nnU-Net and
MONAI do) and accumulated, so memory is bounded by the tile batch plus one output-sized accumulator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Predictor = Callable[[torch.Tensor], torch.Tensor]  # (N, C, h, w) -> (N, K, h, w) probabilities


def gaussian_map(height: int, width: int, sigma_scale: float = 0.125) -> torch.Tensor:
    """Separable Gaussian importance map, max 1, floored to avoid zero weights at the corners."""

    def axis(n: int) -> torch.Tensor:
        coords = torch.arange(n, dtype=torch.float32) - (n - 1) / 2
        return torch.exp(-0.5 * (coords / max(sigma_scale * n, 1e-6)) ** 2)

    g = axis(height)[:, None] * axis(width)[None, :]
    g = g / g.max()
    return g.clamp_min(1e-3)


def tile_starts(size: int, tile: int, overlap: float) -> list[int]:
    """Start offsets covering [0, size) with tiles of ``tile`` and the given fractional overlap."""
    if size <= tile:
        return [0]
    step = max(1, round(tile * (1.0 - overlap)))
    starts = list(range(0, size - tile + 1, step))
    if starts[-1] != size - tile:
        starts.append(size - tile)
    return starts


def sliding_window(
    predictor: Predictor,
    image: torch.Tensor,
    *,
    tile: tuple[int, int] = (512, 512),
    overlap: float = 0.25,
    batch_size: int = 4,
    sigma_scale: float = 0.125,
) -> torch.Tensor:
    """Probabilities (K, H, W) for one image (C, H, W), tiling when it exceeds ``tile``."""
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    _, height, width = image.shape
    th, tw = min(tile[0], height), min(tile[1], width)
    if (th, tw) == (height, width):
        return predictor(image[None])[0]
    weight = gaussian_map(th, tw, sigma_scale)
    windows = [(y, x) for y in tile_starts(height, th, overlap) for x in tile_starts(width, tw, overlap)]
    acc: torch.Tensor | None = None
    norm = torch.zeros(height, width)
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size]
        probs = predictor(torch.stack([image[:, y : y + th, x : x + tw] for y, x in chunk]))
        if acc is None:
            acc = torch.zeros(probs.shape[1], height, width)
        for p, (y, x) in zip(probs, chunk, strict=True):
            acc[:, y : y + th, x : x + tw] += p * weight
            norm[y : y + th, x : x + tw] += weight
    assert acc is not None
    return acc / norm


FLIPS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


def with_flip_tta(predictor: Predictor) -> Predictor:
    """Average a predictor's probabilities over identity, horizontal, vertical and both flips."""

    def run(x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(())
        for dims in FLIPS:
            xf = torch.flip(x, dims) if dims else x
            p = predictor(xf)
            total = total + (torch.flip(p, dims) if dims else p)
        return total / len(FLIPS)

    return run


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid for one output channel (binary), softmax over channels otherwise."""
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


def to_labels(probs: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard labels (..., H, W) from probabilities (..., K, H, W)."""
    if probs.shape[-3] == 1:
        return (probs[..., 0, :, :] >= threshold).long()
    return probs.argmax(dim=-3)
