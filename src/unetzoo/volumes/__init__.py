"""Volumes: 3D images with their geometry in and out (NIfTI, MetaImage, NRRD, DICOM series, nnU-Net raw v2).

>>> from unetzoo.volumes import read_volume, write_volume
>>> vol = read_volume("BRATS_001_0000.nii.gz")             # doctest: +SKIP
>>> write_volume("BRATS_001.nii.gz", prediction, like=vol)   # same header and geometry  # doctest: +SKIP

The readers need ``pip install 'unetzoo[volumes]'`` (nibabel, SimpleITK, pynrrd). Names load on first use
(PEP 562) and the back ends only when a file of their format is read, so ``import unetzoo.volumes`` works
without them. See docs/volumes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unetzoo.utils.lazy import lazy_attributes

_LAZY = {
    "Geometry": "unetzoo.volumes.geometry",
    "Case": "unetzoo.volumes.io",
    "Volume": "unetzoo.volumes.io",
    "read_volume": "unetzoo.volumes.io",
    "write_volume": "unetzoo.volumes.io",
    "BrainSpec": "unetzoo.volumes.synthetic",
    "brain_case": "unetzoo.volumes.synthetic",
    "parse_brain_spec": "unetzoo.volumes.synthetic",
    "VolumeDataset": "unetzoo.volumes.nnunet",
    "write_dataset": "unetzoo.volumes.nnunet",
}

if TYPE_CHECKING:
    from unetzoo.volumes.geometry import Geometry
    from unetzoo.volumes.io import Case, Volume, read_volume, write_volume
    from unetzoo.volumes.nnunet import VolumeDataset, write_dataset
    from unetzoo.volumes.synthetic import BrainSpec, brain_case, parse_brain_spec


__getattr__ = lazy_attributes(__name__, _LAZY)


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
