"""MetaImage (``.mha``, ``.mhd`` + data file) through SimpleITK, plus the SimpleITK <-> Geometry bridge.

ITK's MetaImage header writes spacing, origin (``Offset``) and direction (``TransformMatrix``) with 17
significant digits, so the geometry survives a write and a read bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from unetzoo.data.problems import fail
from unetzoo.volumes.geometry import Geometry
from unetzoo.volumes.io import Volume, check_3d

ERRORS: tuple[type[Exception], ...] = ()


def geometry_of(image: sitk.Image) -> Geometry:
    """The geometry of a 3D SimpleITK image (same LPS convention, no conversion)."""
    return Geometry(image.GetSpacing(), image.GetOrigin(), image.GetDirection())


def to_image(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """A SimpleITK image of a ``(z, y, x)`` array placed on ``geometry``."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    return image


def volume_of(image: sitk.Image, path: Path) -> Volume:
    """A :class:`Volume` of a scalar 3D SimpleITK image read from ``path``."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        dims = (*image.GetSize(), image.GetNumberOfComponentsPerPixel())
        check_3d(path, dims)  # refuses it, naming the vector axis
    check_3d(path, image.GetSize())
    array = sitk.GetArrayFromImage(image)
    return Volume(array, geometry_of(image), array.dtype, path)


def _data_file(header: Path) -> Path | None:
    """The data file a ``.mhd`` header names (``ElementDataFile``), unless the data are inline or a list."""
    for line in header.read_text(encoding="latin-1", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ElementDataFile":
            value = value.strip()
            return None if value in ("LOCAL", "LIST") or "%" in value else header.parent / value
    return None


def read(path: Path) -> Volume:
    """Read an ``.mha`` or ``.mhd`` (whose data file must exist beside it)."""
    if path.suffix.lower() == ".mhd":
        data = _data_file(path)
        if data is not None and not data.exists():
            raise fail(path, f"its data file {data.name} is missing", f"put {data.name} beside it (or write .mha)")
    return volume_of(sitk.ReadImage(str(path)), path)


def info(path: Path) -> tuple[tuple[int, int, int], Geometry]:
    """Shape ``(z, y, x)`` and geometry from the header alone (``ReadImageInformation``)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    x, y, z = check_3d(path, (*reader.GetSize(), reader.GetNumberOfComponents()))
    return (z, y, x), Geometry(reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())


def write(tmp: Path, array: np.ndarray, geometry: Geometry, header: object) -> None:
    """Write a single-file ``.mha`` (``header`` is unused: the geometry is the whole MetaImage header)."""
    sitk.WriteImage(to_image(array, geometry), str(tmp))


def write_pair(path: Path, array: np.ndarray, geometry: Geometry) -> None:
    """Write ``path`` (``.mhd``) and its ``.raw`` in a temporary folder beside them, then move the data file
    and, last, the header into place: a failed write leaves the previous pair untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        sitk.WriteImage(to_image(array, geometry), str(Path(tmp) / path.name))
        files = sorted(Path(tmp).iterdir(), key=lambda f: f.suffix.lower() == ".mhd")  # header last
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for f in files:
            os.replace(f, path.parent / f.name)
