"""Helpers of the volume tests: grids and files built here, real files shipped inside installed wheels."""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import pydicom
from scipy.spatial.transform import Rotation

from unetzoo.volumes import Geometry

NIBABEL_DATA = Path(nibabel.__file__).parent / "tests" / "data"
"""nibabel's test data: real MRI (``anatomical.nii``, big-endian int16; ``example4d.nii.gz``, an oblique fMRI)."""
PYDICOM_SERIES = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests"
"""pydicom's DICOMDIR test tree: real CT and MR series (downsampled to 16x16)."""


def oblique(seed: int = 0, *, left_handed: bool = False) -> Geometry:
    """An oblique, anisotropic grid (optionally with a left-handed direction, as many NIfTI files have)."""
    rotation = Rotation.from_euler("xyz", [17.0, -28.0, 41.0 + seed], degrees=True).as_matrix()
    if left_handed:
        rotation[:, 0] *= -1
    return Geometry((0.7031, 0.7031, 3.3), (-117.25, 83.9, -21.0173), rotation.ravel())


def volume(shape: tuple[int, int, int] = (6, 7, 8), dtype: str = "int16", seed: int = 0) -> np.ndarray:
    """Random voxels covering the dtype's range, so no value is representable by accident only."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(0, 100, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
