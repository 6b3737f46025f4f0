"""NumPy twin of the torch inference geometry: size padding, tiling with Gaussian blending, flip TTA.

An exported model is the network's ``forward_padded``: it only accepts inputs of a valid size. The runtime
does what ``SegmentationModel.forward`` does in torch (mirror-pad to a valid size, run, crop back) from the
card's padding rule, and tiles large images with :mod:`unetzoo.utils.tiling`, the implementation the torch
engine uses too (same padding amounts, same tile grid, same Gaussian map), so ONNX and eager predictions
agree to float rounding. No torch import.

Padding rules (the card's ``padding`` field):

* ``{"rule": "multiple", "multiple": m, "minimum": n}``: each side is padded (half before, rest after) to
  a multiple of ``m`` that is at least ``n``; the output has the input's size.
* ``{"rule": "overlap_tile", "step": s, "in_extra": a, "out_shrink": b, "context": c}``: valid-convolution
  nets (the original U-Net): the valid tiles are ``s*k + a`` in, ``s*k - b`` out, and the output starts
  ``c`` px inside the input (Ronneberger et al. 2015, Fig. 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from unetzoo.utils.tiling import blend_tiles, flip_tta

Predictor = Callable[[np.ndarray], np.ndarray]  # (N, C, h, w) -> (N, K, h, w) probabilities
Network = Callable[[np.ndarray], np.ndarray]  # (N, C, h, w) -> (N, K, h', w') logits


def side_padding(rule: Mapping[str, Any], size: int) -> tuple[int, int, int]:
    """(before, after, output offset) along one axis of ``size`` px under a padding ``rule``."""
    if rule["rule"] == "multiple":
        total = max((-size) % rule["multiple"], rule["minimum"] - size)
        before = total // 2
        return before, total - before, before
    if rule["rule"] == "overlap_tile":
        step, context = rule["step"], rule["context"]
        k = max(1, -(-(size + rule["out_shrink"]) // step))
        tile_in, tile_out = step * k + rule["in_extra"], step * k - rule["out_shrink"]
        before = context + (tile_out - size) // 2
        return before, tile_in - size - before, before - context
    raise ValueError(f"unknown padding rule {rule['rule']!r}")


def mirror_pad(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Reflect-pad the last two axes by any amount, as ``unetzoo.layers.padding.mirror_pad`` does."""
    spec = [(0, 0)] * (x.ndim - 2)
    while top or bottom or left or right:
        h, w = x.shape[-2:]
        if h == 1 or w == 1:  # reflection impossible on a single row/column: replicate instead
            return np.pad(x, [*spec, (top, bottom), (left, right)], mode="edge")
        t, b, lft, r = min(top, h - 1), min(bottom, h - 1), min(left, w - 1), min(right, w - 1)
        x = np.pad(x, [*spec, (t, b), (lft, r)], mode="reflect")
        top, bottom, left, right = top - t, bottom - b, left - lft, right - r
    return x


def padded_runner(run: Network, rule: Mapping[str, Any]) -> Network:
    """Wrap a valid-size network ``run`` (N, C, h, w) -> logits so that it accepts any size, like ``forward``."""

    def forward(x: np.ndarray) -> np.ndarray:
        height, width = x.shape[-2:]
        top, bottom, oy = side_padding(rule, height)
        left, right, ox = side_padding(rule, width)
        if top or bottom or left or right:
            x = mirror_pad(x, top, bottom, left, right)
        out = run(np.ascontiguousarray(x, dtype=np.float32))
        return out[..., oy : oy + height, ox : ox + width]

    return forward


def _zeros(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, np.float32)


def _flip(x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    return np.flip(x, dims)


sliding_window = partial(blend_tiles, stack=np.stack, zeros=_zeros, as_array=np.asarray)
"""``sliding_window(predictor, image (C, H, W), *, tile, overlap, batch_size, sigma_scale)`` -> (K, H, W)."""


def with_flip_tta(predictor: Predictor) -> Predictor:
    """Average a predictor's probabilities over identity, horizontal, vertical and both flips (float32)."""
    return flip_tta(predictor, _flip)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Overflow-free elementwise sigmoid; float32."""
    logits = logits.astype(np.float32, copy=False)
    e = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Sigmoid for one output channel (binary), softmax over channels (axis 1) otherwise; float32."""
    logits = logits.astype(np.float32, copy=False)
    if logits.shape[1] == 1:
        return sigmoid(logits)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def to_labels(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Hard labels (..., H, W) int64 from probabilities (..., K, H, W)."""
    if probs.shape[-3] == 1:
        return (probs[..., 0, :, :] >= threshold).astype(np.int64)
    return probs.argmax(axis=-3).astype(np.int64)
