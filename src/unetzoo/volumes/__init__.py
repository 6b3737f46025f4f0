"""Volumes: 3D images with their geometry in and out (NIfTI, MetaImage, NRRD, DICOM series, nnU-Net raw v2).

>>> from unetzoo.volumes import read_volume, write_volume
>>> vol = read_volume("BRATS_001_0000.nii.gz")             # doctest: +SKIP
>>> write_volume("BRATS_001.nii.gz", prediction, like=vol)   # same header and geometry  # doctest: +SKIP

The readers need ``pip install 'unetzoo[volumes]'`` (nibabel, SimpleITK, pynrrd). Names load on first use
(PEP 562) and the back ends only when a file of their format is read, so ``import unetzoo.volumes`` works
without them. See docs/volumes.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Geometry": "geometry",
    "Case": "io",
    "Volume": "io",
    "read_volume": "io",
    "write_volume": "io",
    "BrainSpec": "synthetic",
    "brain_case": "synthetic",
    "parse_brain_spec": "synthetic",
    "VolumeDataset": "nnunet",
    "write_dataset": "nnunet",
}

if TYPE_CHECKING:
    from unetzoo.volumes.geometry import Geometry
    from unetzoo.volumes.io import Case, Volume, read_volume, write_volume
    from unetzoo.volumes.nnunet import VolumeDataset, write_dataset
    from unetzoo.volumes.synthetic import BrainSpec, brain_case, parse_brain_spec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"unetzoo.volumes.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unetzoo.volumes' has no attribute {name!r}")


__all__ = [
    "BrainSpec",
    "Case",
    "Geometry",
    "Volume",
    "VolumeDataset",
    "brain_case",
    "parse_brain_spec",
    "read_volume",
    "write_dataset",
    "write_volume",
]
