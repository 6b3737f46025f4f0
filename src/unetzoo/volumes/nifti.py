"""NIfTI-1 / NIfTI-2 (``.nii``, ``.nii.gz``) through nibabel.

The geometry is nibabel's ``img.affine``: the sform when its code is set, else the qform, else the pixdim-only
fallback -- the order the NIfTI-1 header (``nifti1.h``, "METHOD 3 / METHOD 2") recommends. Data are read with
``mmap=False`` so the file is closed afterwards (and can be replaced on any platform).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from unetzoo.data.problems import fail
from unetzoo.volumes.geometry import Geometry
from unetzoo.volumes.io import Volume, check_3d

ERRORS: tuple[type[Exception], ...] = (nib.filebasedimages.ImageFileError, nib.spatialimages.HeaderDataError)

_NIFTI = (nib.Nifti1Image, nib.Nifti2Image)


def read(path: Path) -> Volume:
    """Read a 3D NIfTI file (a trailing length-1 4th axis is dropped)."""
    image = nib.load(path, mmap=False)
    if not isinstance(image, _NIFTI):
        raise fail(path, f"is a {type(image).__name__}, not NIfTI", "convert it to .nii.gz")
    shape = check_3d(path, image.shape)
    data = np.asanyarray(image.dataobj).reshape(shape, order="F").T  # (x, y, z) -> (z, y, x), a C-order view
    try:
        geometry = Geometry.from_affine(image.affine)
    except ValueError as exc:
        raise fail(path, f"has an affine without a spacing/direction form ({exc})", "resample it first") from None
    array = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("="))
    return Volume(array, geometry, image.get_data_dtype(), path, image.header)


def info(path: Path) -> tuple[tuple[int, int, int], Geometry]:
    """Shape ``(z, y, x)`` and geometry from the header alone (nibabel loads voxels lazily), after a cheap
    check that the file is complete: an uncompressed file as long as its header says; a gzipped one whose
    trailer (ISIZE, RFC 1952 Sec. 2.3.1: the uncompressed length mod 2**32) gives that length -- where it does
    not (a truncated file, or a valid multi-member gzip such as bgzip's), a full read decides."""
    image = nib.load(path)
    if not isinstance(image, _NIFTI):
        raise fail(path, f"is a {type(image).__name__}, not NIfTI", "convert it to .nii.gz")
    x, y, z = check_3d(path, image.shape)
    expected = int(image.header.get_data_offset()) + x * y * z * image.header.get_data_dtype().itemsize
    if path.name.lower().endswith(".gz"):
        with path.open("rb") as f:
            f.seek(-4, 2)
            if int.from_bytes(f.read(4), "little") != expected % 2**32:
                read(path)  # raises if the file is truncated or corrupt
    elif path.stat().st_size < expected:
        what = f"holds {path.stat().st_size} bytes but its header needs {expected}"
        raise fail(path, what, "the file is corrupt or truncated: export it again")
    try:
        return (z, y, x), Geometry.from_affine(image.affine)
    except ValueError as exc:
        raise fail(path, f"has an affine without a spacing/direction form ({exc})", "resample it first") from None


def write(tmp: Path, array: np.ndarray, geometry: Geometry, header: object) -> None:
    """Write ``array`` (z, y, x): with ``header`` (a NIfTI header whose geometry is ``geometry``) kept verbatim
    but for data type and scaling, else with a new header (qform = sform = the affine, code 1 scanner)."""
    if isinstance(header, nib.Nifti1Header):  # Nifti2Header subclasses it
        header = header.copy()
        header.set_data_dtype(array.dtype)
        header.set_slope_inter(np.nan, np.nan)
        cls = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
        image = cls(array.T, None, header)
    else:
        affine = geometry.to_affine()
        image = nib.Nifti1Image(array.T, affine)
        image.set_qform(affine, code=1)
        image.set_sform(affine, code=1)
        image.header.set_xyzt_units("mm")
    nib.save(image, tmp)
