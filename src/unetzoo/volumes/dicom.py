"""A DICOM series folder through SimpleITK (GDCM), checked to be one evenly spaced stack of parallel slices.

Geometry as DICOM PS3.3 C.7.6.2.1.1 (Image Plane Module) defines it: Image Orientation (Patient) (0020,0037)
gives the row and column direction cosines, Pixel Spacing (0028,0030) the row and column spacing, Image Position
(Patient) (0020,0032) the centre of each slice's first voxel in LPS mm. Slices are sorted by their position
along the normal (row x column), the origin is the first slice's position and the slice spacing the distance
between neighbours. Rescale Slope/Intercept (0028,1053/1052, C.11.1.1.2) are applied by GDCM, so CT comes
out in Hounsfield units (``int32`` or ``float64`` where the rescale needs it).

ITK only warns about slices missing from a stack, a gantry tilt, or images at one position (several echoes or
time points in one series) and then returns a volume with a wrong geometry; :func:`read` refuses these with a
one-line error instead. One series per read: a folder with several names them and says how to pick one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from unetzoo.data.problems import fail
from unetzoo.volumes.io import Volume
from unetzoo.volumes.metaimage import volume_of

ERRORS: tuple[type[Exception], ...] = ()

_POSITION, _ORIENTATION, _DESCRIPTION = "0020|0032", "0020|0037", "0008|103e"
_TOLERANCE = 1e-3
"""Relative slack on orientation cosines and slice steps (DICOM decimal strings carry ~6 digits)."""


def _header(path: str) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    return reader


def _numbers(reader: sitk.ImageFileReader, tag: str, count: int, path: str) -> np.ndarray:
    if not reader.HasMetaDataKey(tag):
        raise fail(path, f"has no ({tag.replace('|', ',')}) tag", "it is not a slice of an image volume")
    values = np.array([float(v) for v in reader.GetMetaData(tag).split("\\")])
    if values.shape != (count,):
        raise fail(path, f"tag ({tag.replace('|', ',')}) has {values.size} values, not {count}", "fix the file")
    return values


def _series(folder: Path, series: str | None) -> str:
    """The one series to read: ``series`` if given and present, else the folder's only one."""
    uids = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if not uids:
        raise fail(folder, "holds no DICOM series", "point at the folder that holds the series' .dcm files")
    if series is not None:
        if series not in uids:
            raise fail(folder, f"has no series {series!r}", f"choose one of {', '.join(uids)}")
        return series
    if len(uids) > 1:
        names = []
        for uid in uids:
            files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid)
            first = _header(files[0])
            what = first.GetMetaData(_DESCRIPTION).strip() if first.HasMetaDataKey(_DESCRIPTION) else "?"
            names.append(f"{uid} ({what!r}, {len(files)} files)")
        what = f"holds {len(uids)} DICOM series: {'; '.join(names)}"
        raise fail(folder, what, "pass series=UID to read one, or give each series its own folder")
    return uids[0]


def sorted_slices(folder: Path, files: list[str]) -> list[str]:
    """``files`` sorted along the slice normal, checked to be parallel slices evenly spaced along it."""
    headers = [_header(f) for f in files]
    cosines = [_numbers(h, _ORIENTATION, 6, f) for h, f in zip(headers, files, strict=True)]
    positions = np.array([_numbers(h, _POSITION, 3, f) for h, f in zip(headers, files, strict=True)])
    for f, c in zip(files, cosines, strict=True):
        if not np.allclose(c, cosines[0], atol=_TOLERANCE):
            what = f"slice {Path(f).name} is oriented {c.tolist()}, the first one {cosines[0].tolist()}"
            raise fail(folder, what, "this series is not one stack of parallel slices (a localizer or radial set)")
    normal = np.cross(cosines[0][:3], cosines[0][3:])
    order = np.argsort(positions @ normal, kind="stable")
    if len(files) < 2:
        return list(files)
    steps = np.diff(positions[order], axis=0)
    gap = float(np.median(steps @ normal))
    if gap < _TOLERANCE:
        what = f"holds {len(files)} images but only {len(np.unique(np.round(positions @ normal, 3)))} positions"
        raise fail(folder, what, "split the echoes or time points into one series each")
    bad = np.flatnonzero(np.linalg.norm(steps - gap * normal, axis=1) > _TOLERANCE * max(gap, 1.0))
    if bad.size:
        k = int(bad[0])
        step = ", ".join(f"{s:.3f}" for s in steps[k])
        what = f"slices are not evenly spaced along the normal ({step}) mm after slice {k + 1} of {len(files)}"
        raise fail(folder, what, "a slice is missing or the gantry is tilted: export a complete, resampled series")
    return [files[i] for i in order]


def read(folder: Path, series: str | None = None) -> Volume:
    """Read the folder's DICOM series (``series``: its SeriesInstanceUID where the folder holds several)."""
    uid = _series(folder, series)
    files = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sorted_slices(folder, files))
    return volume_of(reader.Execute(), folder)
