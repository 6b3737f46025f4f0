"""Per-image intensity normalisation, NumPy only: the one definition behind training's
:class:`unetzoo.data.Preprocess` and the torch-free runtime (:mod:`unetzoo.deploy.preprocess`), so ONNX
predictions see exactly what training saw."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unetzoo.utils.polarity import negatively_skewed
from unetzoo.volumes.intensity import zscore_nonzero

NORMALIZATIONS = ("zscore", "zscore_polarity", "nonzero", "minmax", "dataset", "none")
"""``zscore``: per image and channel, (x - mean) / std. ``zscore_polarity``: the same, negated on an image whose
intensities are negatively skewed (dark objects on a bright background; :mod:`unetzoo.utils.polarity`), so every
image shows bright objects. ``nonzero``: the z-score over the pixels where any channel is
nonzero (a brain slice of a skull-stripped MRI), 0 elsewhere (:func:`unetzoo.volumes.intensity.zscore_nonzero`).
``minmax``: per image and channel to [0, 1].
``dataset``: (x - mean_c) / std_c with the training set's channel statistics (:meth:`unetzoo.data.Preprocess.fit`).
``none``: raw intensities as float32."""

EPS = 1e-6


def normalize_image(
    image: np.ndarray, mode: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> np.ndarray:
    """Normalize an ``HxWxC`` float32 image by ``mode`` (:data:`NORMALIZATIONS`; ``mean``/``std`` for ``dataset``)."""
    if mode == "none":
        return image
    if mode == "dataset":
        return (image - np.float32(mean)) / np.maximum(np.float32(std), EPS)
    planes = np.ascontiguousarray(image.transpose(2, 0, 1))  # per-channel statistics ~20x faster on CxHxW
    if mode == "nonzero":
        return zscore_nonzero(planes).transpose(1, 2, 0)
    if mode in ("zscore", "zscore_polarity"):
        mu, sigma = planes.mean(axis=(1, 2)), planes.std(axis=(1, 2))
        out = (image - mu) / np.maximum(sigma, EPS)
        return -out if mode == "zscore_polarity" and negatively_skewed(image) else out
    lo, hi = planes.min(axis=(1, 2)), planes.max(axis=(1, 2))
    return (image - lo) / np.maximum(hi - lo, EPS)
