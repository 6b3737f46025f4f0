"""Intensity normalisation of whole volumes before slicing: z-score within the body, or a CT window.

* ``nonzero`` z-score (MRI): per channel, mean and standard deviation over the voxels where any channel is
  nonzero (the brain of a skull-stripped BraTS case), voxels outside set to 0 -- nnU-Net's
  ``ZScoreNormalization`` with ``use_mask_for_norm`` (``nnunetv2/preprocessing/normalization``), which it picks
  for BraTS; SD-UNet likewise normalises the MSD brain tumour data "to ensure 0 mean and unit variance"
  (Sec. 3.4.2). Statistics per volume, not per slice: a slice's intensities keep their meaning across slices.
* a CT window (Hounsfield units): clip to ``[level - width / 2, level + width / 2]`` and map that range to
  ``[0, 1]``. Presets (level, width) are the usual radiology ones (Radiopaedia, "Windowing (CT)"): ``lung``
  (-600, 1500), ``mediastinum`` (50, 350), ``abdomen`` (50, 400), ``liver`` (30, 150), ``brain`` (40, 80),
  ``bone`` (400, 1800); or ``LEVEL,WIDTH`` (``--window=-600,1500``).
"""

from __future__ import annotations

import numpy as np

from unetzoo.errors import UnetzooError

WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
    "brain": (40.0, 80.0),
    "bone": (400.0, 1800.0),
}
"""CT window presets: name -> (level, width) in HU."""

_EPS = 1e-6


def parse_window(text: str) -> tuple[float, float]:
    """A preset name or ``LEVEL,WIDTH`` -> (level, width); one-line error otherwise."""
    if text.lower() in WINDOWS:
        return WINDOWS[text.lower()]
    parts = text.split(",")
    try:
        level, width = (float(p) for p in parts)
    except ValueError:
        level, width = 0.0, -1.0
    if len(parts) != 2 or width <= 0:
        raise UnetzooError(
            f"--window {text!r}: give a preset ({', '.join(WINDOWS)}) or LEVEL,WIDTH in HU with WIDTH > 0, "
            "e.g. --window=-600,1500",
            exit_code=2,
        )
    return level, width


def apply_window(image: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Clip to the window and map it to [0, 1] (float32)."""
    level, width = window
    low = level - width / 2
    return ((np.clip(image.astype(np.float32), low, low + width) - low) / np.float32(width)).astype(np.float32)


def zscore_nonzero(image: np.ndarray) -> np.ndarray:
    """``(C, ...)`` -> per-channel z-score over the voxels where any channel is nonzero; 0 elsewhere (float32)."""
    image = image.astype(np.float32)
    body = (image != 0).any(axis=0)
    if not body.any():
        return np.zeros_like(image)
    out = np.zeros_like(image)
    for c, channel in enumerate(image):
        values = channel[body]
        out[c][body] = (values - values.mean()) / max(float(values.std()), _EPS)
    return out


def normalize_volume(image: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """``(C, z, y, x)`` raw -> float32: the CT ``window`` if given, else the nonzero z-score."""
    return apply_window(image, window) if window is not None else zscore_nonzero(image)
