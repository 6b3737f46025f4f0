"""Resampling of images and probability maps: one NumPy implementation for training and both inference engines.

The training data loader, the torch :class:`unetzoo.engine.inference.Segmenter` and the torch-free
:class:`unetzoo.deploy.runtime.OnnxSegmenter` all resize with :func:`resize` so that a model sees at inference
exactly the resampling it was trained on. The filter is the antialiased linear ("triangle") filter of Pillow's
``BILINEAR`` and of ``torch.nn.functional.interpolate(mode="bilinear", antialias=True, align_corners=False)``:
when shrinking, its support widens with the factor (each output pixel averages the input pixels it covers);
when enlarging it is plain bilinear interpolation. ``tests/utils/test_resample.py`` checks it against torch.

:class:`Resampling` is the record a run stores (checkpoint, model card, plan): ``native`` (no resampling),
``resize`` to a fixed ``size`` (H, W), or ``scale`` by a factor. NumPy only: the deploy runtime imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from unetzoo.errors import UnetzooError

MODES = ("native", "resize", "scale")
_CHUNK = 1 << 24  # elements of the gathered (rows, taps, row length) block per step: bounds peak memory


@lru_cache(maxsize=64)
def _taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Input indices ``(out, k)`` and normalized weights ``(out, k)`` of the triangle filter along one axis."""
    ratio = size_in / size_out
    support = max(ratio, 1.0)  # half-width of the triangle in input pixels
    centers = (np.arange(size_out) + 0.5) * ratio
    k = int(np.ceil(support)) * 2 + 1
    start = np.floor(centers - support + 0.5).astype(np.int64)
    index = start[:, None] + np.arange(k)[None, :]
    weights = np.maximum(0.0, 1.0 - np.abs(index + 0.5 - centers[:, None]) / support)
    weights[(index < 0) | (index >= size_in)] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return np.clip(index, 0, size_in - 1), weights.astype(np.float32)


def _resize_axis0(array: np.ndarray, size_out: int) -> np.ndarray:
    """Resample the first axis of an ``(N, M)`` float32 array to ``size_out`` rows."""
    index, weights = _taps(array.shape[0], size_out)
    out = np.empty((size_out, array.shape[1]), dtype=np.float32)
    step = max(1, _CHUNK // max(1, index.shape[1] * array.shape[1]))
    for lo in range(0, size_out, step):
        hi = min(lo + step, size_out)
        out[lo:hi] = np.einsum("ok,okm->om", weights[lo:hi], array[index[lo:hi]])
    return out


def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``HxW`` or ``HxWxC`` (H, W first) to ``size`` = (H', W') with the antialiased linear filter.

    Returns float32 of shape ``(H', W')`` or ``(H', W', C)``. Equal sizes return a float32 copy-free view.
    """
    array = np.asarray(array, dtype=np.float32)
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise UnetzooError(f"cannot resize to {h}x{w}: both sides must be at least 1 pixel")
    if array.shape[:2] == (h, w):
        return array
    squeeze = array.ndim == 2
    x = array[..., None] if squeeze else array
    height, width, channels = x.shape
    x = _resize_axis0(x.reshape(height, width * channels), h).reshape(h, width, channels)
    x = _resize_axis0(np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(width, h * channels), w)
    x = np.ascontiguousarray(x.reshape(w, h, channels).transpose(1, 0, 2))
    return x[..., 0] if squeeze else x


def resize_labels(labels: np.ndarray, size: tuple[int, int], classes: int) -> np.ndarray:
    """Resize an ``HxW`` class-id map: each class's indicator is resized with :func:`resize`, then argmax.

    Unlike nearest-neighbour, every output pixel takes the class that covers most of its footprint, so thin
    structures keep their share of pixels when an image is shrunk.
    """
    if labels.shape == tuple(size):
        return labels
    planes = np.stack([labels == c for c in range(max(2, classes))], axis=-1).astype(np.float32)
    return resize(planes, size).argmax(axis=-1).astype(labels.dtype)


@dataclass(frozen=True)
class Resampling:
    """How a run rescales every image before the network, and back after it.

    Args:
        mode: ``native`` (as stored), ``resize`` (every image to ``size``), ``scale`` (every side times ``scale``).
        size: (H, W) for ``resize``.
        scale: factor for ``scale`` (0 < scale <= 4).
    """

    mode: str = "native"
    size: tuple[int, int] | None = None
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UnetzooError(f"resampling mode {self.mode!r}: choose one of {', '.join(MODES)}", exit_code=2)
        if self.mode == "resize" and (self.size is None or min(self.size) < 8):
            raise UnetzooError(f"--resize needs H W of at least 8 pixels, got {self.size}", exit_code=2)
        if self.mode == "scale" and (self.scale is None or not 0.0 < self.scale <= 4.0):
            raise UnetzooError(f"--scale must be in (0, 4], got {self.scale}", exit_code=2)
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    @property
    def is_native(self) -> bool:
        return self.mode == "native" or (self.mode == "scale" and self.scale == 1.0)

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """The (H, W) an image of ``height`` x ``width`` is resampled to."""
        if self.mode == "resize":
            return self.size  # type: ignore[return-value]
        if self.mode == "scale":
            return max(1, round(height * self.scale)), max(1, round(width * self.scale))  # type: ignore[operator]
        return height, width

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "size": list(self.size) if self.size else None, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Resampling:
        """The record as stored; ``None`` (runs saved before resampling existed) is ``native``."""
        if not data:
            return cls()
        unknown = set(data) - {"mode", "size", "scale"}
        if unknown:
            raise UnetzooError(f"resampling record has unknown keys {sorted(unknown)}; was it saved by unetzoo?")
        size = data.get("size")
        return cls(data.get("mode", "native"), tuple(size) if size else None, data.get("scale"))  # type: ignore[arg-type]

    def describe(self) -> str:
        if self.mode == "resize":
            return f"resize to {self.size[0]}x{self.size[1]}"  # type: ignore[index]
        if self.mode == "scale" and not self.is_native:
            return f"scale x{self.scale:g}"
        return "native resolution"


def apply_to_image(image: np.ndarray, resampling: Resampling) -> np.ndarray:
    """``HxW(xC)`` image at the run's working scale (float32; unchanged object when native)."""
    if resampling.is_native:
        return image
    return resize(image, resampling.target_size(image.shape[0], image.shape[1]))


def probabilities_back(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``KxHxW`` probabilities at the working scale -> ``KxH'xW'`` at the original ``size`` (H', W')."""
    if probs.shape[1:] == tuple(size):
        return probs
    return np.ascontiguousarray(resize(np.ascontiguousarray(probs.transpose(1, 2, 0)), size).transpose(2, 0, 1))
