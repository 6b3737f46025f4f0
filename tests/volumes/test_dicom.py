"""DICOM series: real CT/MR series shipped inside pydicom's wheel, and an oblique series built from its CT file.

The expected geometry is computed here from the tags with pydicom, as DICOM PS3.3 C.7.6.2.1.1 defines it, and
compared with what read_volume returns and with SimpleITK's own series reading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from scipy.spatial.transform import Rotation
from volgen import PYDICOM_SERIES

from unetzoo.errors import UnetzooError
from unetzoo.volumes import Geometry, read_volume, write_volume


def expected(folder: Path) -> tuple[Geometry, np.ndarray]:
    """Geometry and rescaled voxels of a one-series folder, from the tags (pydicom)."""
    slices = [pydicom.dcmread(p) for p in folder.iterdir()]
    cosines = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(cosines[:3], cosines[3:])
    slices.sort(key=lambda ds: float(np.dot(np.array(ds.ImagePositionPatient, dtype=float), normal)))
    first, last = (np.array(slices[i].ImagePositionPatient, dtype=float) for i in (0, -1))
    row_spacing, column_spacing = (float(v) for v in slices[0].PixelSpacing)
    gap = float(np.dot(last - first, normal)) / (len(slices) - 1)
    direction = np.column_stack([cosines[:3], cosines[3:], normal]).ravel()
    voxels = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in slices])
    return Geometry((column_spacing, row_spacing, gap), first, direction), voxels


def sitk_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def check_series(folder: Path) -> None:
    vol = read_volume(folder)
    geometry, voxels = expected(folder)
    assert vol.geometry.matches(geometry, tolerance=1e-6)
    np.testing.assert_array_equal(vol.array, voxels)
    image = sitk_series(folder)
    assert vol.geometry == Geometry(image.GetSpacing(), image.GetOrigin(), image.GetDirection())
    np.testing.assert_array_equal(vol.array, sitk.GetArrayFromImage(image))


def test_real_ct_series(tmp_path: Path) -> None:
    """pydicom's CT5N: five axial CT slices, 2.5 mm apart, stored with RescaleIntercept -1024."""
    folder = PYDICOM_SERIES / "98892001" / "CT5N"
    check_series(folder)
    vol = read_volume(folder)
    assert vol.array.shape == (5, 16, 16) and vol.geometry.spacing[2] == 2.5
    assert vol.array.dtype == np.int32 and -1024 <= vol.array.min() < -800  # air, in HU
    # a prediction of a DICOM input goes to .mha bit-exact, or to NIfTI to float32 precision
    mask = vol.array > -500
    assert read_volume(write_volume(tmp_path / "pred.mha", mask, like=vol)).geometry == vol.geometry
    assert read_volume(write_volume(tmp_path / "pred.nii.gz", mask, like=vol)).geometry.matches(vol.geometry, 1e-5)


def oblique_series(folder: Path, count: int = 6) -> Path:
    """pydicom's CT_small.dcm restacked as an oblique series: files and instance numbers out of order,
    rescale slope 0.5 (so voxels are fractional)."""
    folder.mkdir()
    rotation = Rotation.from_euler("xyz", [12.0, -25.0, 33.0], degrees=True).as_matrix()
    row, column, normal = rotation.T
    origin, gap, series = np.array([-80.5, 40.25, 12.0]), 3.3, generate_uid()
    rng = np.random.default_rng(0)
    for k, name in enumerate(rng.permutation(count)):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = int(name) + 1
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *column)]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in origin + k * gap * normal]
        ds.PixelSpacing = ["0.7", "0.65"]
        ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-1024"
        ds.save_as(folder / f"IM{name:04d}")
    return folder


def test_oblique_series_sorted_by_position(tmp_path: Path) -> None:
    folder = oblique_series(tmp_path / "oblique")
    check_series(folder)
    vol = read_volume(folder)
    assert vol.array.dtype == np.float64 and not np.allclose(vol.geometry.matrix, np.eye(3), atol=0.1)
    assert vol.geometry.spacing == pytest.approx((0.65, 0.7, 3.3), abs=1e-5)


def test_several_series_are_named_and_one_can_be_chosen() -> None:
    folder = PYDICOM_SERIES / "98892003" / "MR2"
    with pytest.raises(UnetzooError) as info:
        read_volume(folder)
    message = str(info.value)
    assert "\n" not in message and "holds 3 DICOM series" in message and "'FAST LOCALIZER', 1 files" in message
    assert "pass series=UID" in message
    localizer = read_volume(folder, series="1.3.6.1.4.1.5962.1.1.0.0.0.1196533885.18148.0.481")
    assert localizer.array.shape == (1, 16, 16)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ("98892003/MR700", "is oriented"),  # a radial angiography set: seven planes through one axis
        ("77654033/CT2", "not evenly spaced"),  # slices 18, 180, 181, 182 of a head CT: a gap
    ],
)
def test_stacks_itk_would_misplace_are_refused(series: str, message: str) -> None:
    with pytest.raises(UnetzooError, match=message) as info:
        read_volume(PYDICOM_SERIES / series)
    assert "\n" not in str(info.value)


def test_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here\n")
    with pytest.raises(UnetzooError, match="holds no DICOM series"):
        read_volume(tmp_path)
    with pytest.raises(UnetzooError, match="writing DICOM series is not supported"):
        write_volume(tmp_path, np.zeros((2, 2, 2), np.uint8), Geometry((1, 1, 1), (0, 0, 0)))
