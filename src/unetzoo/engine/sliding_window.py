"""Tiled inference with Gaussian blending, and flip test-time augmentation, on torch tensors.

The geometry (tile grid, Gaussian map, blending, flips) is :mod:`unetzoo.utils.tiling`'s, shared with the
torch-free ONNX runtime; this module binds it to torch and adds the torch activations.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from unetzoo.utils.tiling import blend_tiles, flip_tta

Predictor = Callable[[torch.Tensor], torch.Tensor]  # (N, C, h, w) -> (N, K, h, w) probabilities


def _flip(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return torch.flip(x, dims)


sliding_window = partial(blend_tiles, stack=torch.stack, zeros=torch.zeros, as_array=torch.from_numpy)
"""``sliding_window(predictor, image (C, H, W), *, tile, overlap, batch_size, sigma_scale)`` -> (K, H, W)."""


def with_flip_tta(predictor: Predictor) -> Predictor:
    """Average a predictor's probabilities over identity, horizontal, vertical and both flips."""
    return flip_tta(predictor, _flip)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid for one output channel (binary), softmax over channels otherwise."""
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


def to_labels(probs: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Hard labels (..., H, W) from probabilities (..., K, H, W)."""
    if probs.shape[-3] == 1:
        return (probs[..., 0, :, :] >= threshold).long()
    return probs.argmax(dim=-3)
