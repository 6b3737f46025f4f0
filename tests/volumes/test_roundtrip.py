"""Exact geometry round trips: write, read, write ``like`` the input, re-read with nibabel / SimpleITK / pynrrd."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest
import SimpleITK as sitk
from volgen import NIBABEL_DATA, oblique, volume

from unetzoo.volumes import Geometry, read_volume, write_volume

GRIDS = {
    "oblique": oblique(),
    "left-handed": oblique(1, left_handed=True),
    "anisotropic": Geometry((0.5, 0.9, 5.0), (10.25, -30.5, 7.125)),
}
ENDINGS = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")
_FIELDS = ("sizeof_hdr", "dim", "pixdim", "datatype", "bitpix", "qform_code", "sform_code", "quatern_b",
           "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z",
           "xyzt_units", "descrip", "scl_slope", "scl_inter")  # fmt: skip


def sitk_geometry(path: Path) -> tuple:
    image = sitk.ReadImage(str(path))
    return image.GetSpacing(), image.GetOrigin(), image.GetDirection(), image.GetPixelIDValue()


def assert_same_file_geometry(first: Path, second: Path, ending: str) -> None:
    """The two files' headers, as their own library reads them, are equal bit for bit."""
    if ending.startswith(".nii"):
        a, b = nib.load(first).header, nib.load(second).header
        for key in _FIELDS:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        np.testing.assert_array_equal(nib.load(first).affine, nib.load(second).affine)
    else:
        assert sitk_geometry(first) == sitk_geometry(second)
    if ending == ".nrrd":
        a, b = nrrd.read_header(str(first)), nrrd.read_header(str(second))
        for key in ("space", "space directions", "space origin"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32"])
@pytest.mark.parametrize("grid", list(GRIDS))
@pytest.mark.parametrize("ending", ENDINGS)
def test_round_trip_is_exact(tmp_path: Path, ending: str, grid: str, dtype: str) -> None:
    geometry, array = GRIDS[grid], volume(dtype=dtype)
    first = write_volume(tmp_path / f"first{ending}", array, geometry)
    vol = read_volume(first)
    assert vol.array.shape == (6, 7, 8) and vol.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(vol.array, array)
    # MetaImage and NRRD keep doubles; NIfTI stores its affine in float32
    assert vol.geometry.matches(geometry, tolerance=1e-5 if ending.startswith(".nii") else 1e-12)
    if ending in (".mha", ".mhd"):
        assert vol.geometry == geometry
    second = write_volume(tmp_path / f"second{ending}", vol.array, like=vol)
    assert_same_file_geometry(first, second, ending)
    again = read_volume(second)
    assert again.geometry == vol.geometry and again.dtype == vol.dtype
    np.testing.assert_array_equal(again.array, array)
    # SimpleITK places the voxels where we do
    spacing, origin, direction, _ = sitk_geometry(second)
    assert Geometry(spacing, origin, direction).matches(vol.geometry, tolerance=1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(second))), array)


def test_real_mri_prediction_keeps_the_header(tmp_path: Path) -> None:
    """nibabel's anatomical.nii (real MRI, big-endian int16, qform and sform code 2): a mask written like it
    keeps every geometry field; the image itself comes back identical, byte order included."""
    source = NIBABEL_DATA / "anatomical.nii"
    vol = read_volume(source)
    assert vol.array.shape == (25, 41, 33) and vol.dtype == np.dtype(">i2") and vol.array.dtype == np.int16
    mask = write_volume(tmp_path / "mask.nii.gz", vol.array > vol.array.mean(), like=vol)
    original, written = nib.load(source), nib.load(mask)
    assert written.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(written.affine, original.affine)
    for key in ("qform_code", "sform_code", "srow_x", "srow_y", "srow_z", "quatern_b", "qoffset_x", "pixdim"):
        np.testing.assert_array_equal(written.header[key], original.header[key], err_msg=key)
    copy = write_volume(tmp_path / "copy.nii", vol.array, like=vol)
    assert_same_file_geometry(source, copy, ".nii")
    np.testing.assert_array_equal(np.asanyarray(nib.load(copy).dataobj), np.asanyarray(original.dataobj))
    # ITK reads the same grid; written as .mha (doubles) the geometry is bit-exact
    spacing, origin, direction, _ = sitk_geometry(source)
    assert Geometry(spacing, origin, direction).matches(vol.geometry, tolerance=1e-6)
    assert read_volume(write_volume(tmp_path / "mask.mha", vol.array > 0, like=vol)).geometry == vol.geometry
