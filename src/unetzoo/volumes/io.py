"""Read and write 3D volumes with their geometry: NIfTI, MetaImage, NRRD and DICOM series.

>>> vol = read_volume("case_0000.nii.gz")            # doctest: +SKIP
>>> vol.array.shape, vol.geometry.spacing            # (z, y, x) and mm along x, y, z  # doctest: +SKIP
>>> write_volume("pred.nii.gz", mask, like=vol)      # the input's header, affine and codes  # doctest: +SKIP

Arrays are ``(z, y, x)`` (slices, rows, columns) like ``SimpleITK.GetArrayFromImage``; geometry follows
:mod:`unetzoo.volumes.geometry`. Back ends (install with ``pip install 'unetzoo[volumes]'``):

* ``.nii`` / ``.nii.gz``: nibabel. Writing ``like`` a NIfTI input with its geometry reuses its header: qform
  and sform (codes and matrices), units and description stay exactly as they were; only the data type changes
  and scaling is dropped. Without a NIfTI ``like``, qform and sform are both the geometry's affine, code 1
  (scanner), as ITK writes them. NIfTI stores affines in float32: geometry from another format (a DICOM
  series, an .mha) survives to ~1e-5 mm, not bit for bit -- write ``.mha`` where exactness matters.
* ``.mha`` / ``.mhd`` (+ ``.raw``): SimpleITK; the text header holds 17 significant digits, so exact.
* ``.nrrd``: pynrrd, because it keeps ``space directions`` exactly as written; SimpleITK re-derives them from
  spacing x direction and drifts by an ulp on oblique volumes. ``right-anterior-superior`` spaces are read too.
* a folder: one DICOM series (SimpleITK / GDCM), see :mod:`unetzoo.volumes.dicom`. Writing DICOM is not
  supported: write a DICOM input's prediction to ``.mha`` (exact) or ``.nii.gz`` with ``like=`` the input.

Every write goes to a temporary file beside the destination and replaces it only when complete
(:func:`unetzoo.utils.atomic.atomic_path`), so a failure never leaves a half-written file in place of a good one.
"""

from __future__ import annotations

import importlib
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from unetzoo.data.problems import fail
from unetzoo.errors import UnetzooError
from unetzoo.utils.atomic import atomic_path
from unetzoo.volumes.geometry import Geometry

EXTENSIONS = {".nii": "nifti", ".nii.gz": "nifti", ".mha": "metaimage", ".mhd": "metaimage", ".nrrd": "nrrd"}
"""File ending -> format; a folder is a DICOM series."""

_BACKENDS = {
    "nifti": ("unetzoo.volumes.nifti", "nibabel"),
    "metaimage": ("unetzoo.volumes.metaimage", "SimpleITK"),
    "nrrd": ("unetzoo.volumes.nrrdfile", "pynrrd"),
    "dicom": ("unetzoo.volumes.dicom", "SimpleITK"),
}
_DEPENDENCIES = {"nibabel", "SimpleITK", "nrrd"}
_WRITABLE_KINDS = "uif"


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D volume as read from a file.

    Attributes:
        array: voxel values, ``(z, y, x)``, native byte order, scaling (NIfTI scl_slope, DICOM rescale) applied.
        geometry: where the voxels are (:class:`Geometry`).
        dtype: the voxel type stored in the file (may be big-endian, or integer under float scaling).
        path: the file or DICOM folder read.
        header: the format's own header (nibabel header, NRRD header dict), reused by ``write_volume(like=)``.
    """

    array: np.ndarray
    geometry: Geometry
    dtype: np.dtype
    path: Path
    header: Any = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class Case:
    """One case of a multi-channel dataset (nnU-Net's ``case_0000`` ... ``case_000C`` plus ``labelsTr/case``).

    Attributes:
        id: the case name.
        image: ``(channels, z, y, x)``.
        label: ``(z, y, x)`` integer class ids, or None (a test case).
        geometry: the grid all channels and the label share.
        reference: channel 0 as read (its array a view of ``image[0]``): ``like=`` for writing predictions.
    """

    id: str
    image: np.ndarray
    label: np.ndarray | None
    geometry: Geometry
    reference: Volume | None = field(default=None, repr=False)


def volume_format(path: str | os.PathLike[str]) -> str:
    """``nifti``, ``metaimage``, ``nrrd`` or ``dicom`` (a folder), from the name; UnetzooError otherwise."""
    p = Path(path)
    if p.is_dir():
        return "dicom"
    name = p.name.lower()
    for ending in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ending):
            return EXTENSIONS[ending]
    what = f"unsupported volume extension {''.join(p.suffixes[-2:]) or '(none)'!r}"
    raise fail(p, what, f"use {', '.join(EXTENSIONS)} or a folder holding one DICOM series")


def _backend(kind: str, path: Path) -> ModuleType:
    module, package = _BACKENDS[kind]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in _DEPENDENCIES:
            raise
        what = f"{kind} volumes need {package}, which is not installed"
        raise fail(path, what, "pip install 'unetzoo[volumes]'") from None


_ITK_PREFIX = re.compile(r"^(ITK ERROR: \w+\(0x[0-9a-f]+\): |sitk::ERROR: )")


def _one_line(exc: BaseException) -> str:
    """The telling line of a library's error: ITK's own ``ITK ERROR`` line (its messages start with a source
    location), else the first line; shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    itk = [_ITK_PREFIX.sub("", line) for line in lines if _ITK_PREFIX.match(line)]
    text = (itk or lines)[0]
    return text if len(text) <= 160 else text[:157] + "..."


def read_volume(path: str | os.PathLike[str], *, series: str | None = None) -> Volume:
    """Read a 3D volume and its geometry (see the module docstring for formats and conventions).

    Args:
        path: a ``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd`` file or a folder of DICOM files.
        series: for a DICOM folder holding several series, the SeriesInstanceUID to read.

    Raises:
        UnetzooError: one line naming the file and the fix (missing, corrupt, not 3D, several DICOM series,
            missing optional dependency).
    """
    p = Path(path)
    if not p.exists():
        raise fail(p, "does not exist", "check the path")
    kind = volume_format(p)
    if series is not None and kind != "dicom":
        raise fail(p, "series= applies to DICOM folders only", "drop series=")
    backend = _backend(kind, p)
    try:
        volume: Volume = backend.read(p, series) if kind == "dicom" else backend.read(p)
    except UnetzooError:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, KeyError, zlib.error, *backend.ERRORS) as exc:
        what = f"cannot be read as {kind} ({_one_line(exc)})"
        raise fail(p, what, "the file is corrupt or truncated: export it again") from None
    return volume


def check_3d(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``shape`` without trailing length-1 axes beyond the third; a one-line error unless it is 3D then.

    Back ends call it with the file's own axis order, before turning the array to ``(z, y, x)``.
    """
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        dims = "x".join(map(str, shape))
        fix = "store each channel or time point as its own 3D file (nnU-Net: case_0000.nii.gz, case_0001.nii.gz, ...)"
        raise fail(path, f"is {len(shape)}D ({dims}) but a 3D volume was expected", fix)
    return shape[0], shape[1], shape[2]


def read_info(path: str | os.PathLike[str]) -> tuple[tuple[int, int, int], Geometry]:
    """Shape ``(z, y, x)`` and geometry of a volume file from its header alone, without reading the voxels
    (a truncated voxel block goes unnoticed until :func:`read_volume`). Errors as :func:`read_volume`'s."""
    p = Path(path)
    if not p.is_file():
        raise fail(p, "does not exist" if not p.exists() else "is a folder", "check the path")
    kind = volume_format(p)
    backend = _backend(kind, p)
    try:
        return backend.info(p)  # type: ignore[no-any-return]
    except UnetzooError:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, KeyError, zlib.error, *backend.ERRORS) as exc:
        what = f"cannot be read as {kind} ({_one_line(exc)})"
        raise fail(p, what, "the file is corrupt or truncated: export it again") from None


def check_grid(
    path: Path,
    shape: tuple[int, ...],
    geometry: Geometry,
    like: Path,
    like_shape: tuple[int, ...],
    like_geometry: Geometry,
) -> None:
    """``path`` (its ``shape`` and ``geometry``) on the grid of ``like``: the same shape and the same geometry up
    to ITK's tolerance (:meth:`Geometry.matches`); else one line naming ``path`` and the fix."""
    if tuple(shape) != tuple(like_shape):
        what = f"is {tuple(shape)} (z, y, x) but {like.name} is {tuple(like_shape)}"
        raise fail(path, what, "all channels and the label of a case must share one grid: resample it")
    if not geometry.matches(like_geometry):
        what = f"has {geometry.describe()}, {like.name} {like_geometry.describe()}"
        raise fail(path, what, "all channels and the label of a case must share one geometry")


def check_same_grid(volumes: list[Volume]) -> None:
    """All ``volumes`` (a case's channels, then its label) on the first one's grid (:func:`check_grid`)."""
    first = volumes[0]
    for v in volumes[1:]:
        check_grid(v.path, v.array.shape, v.geometry, first.path, first.array.shape, first.geometry)


def write_volume(
    path: str | os.PathLike[str],
    array: np.ndarray,
    geometry: Geometry | None = None,
    *,
    like: Volume | None = None,
) -> Path:
    """Write a ``(z, y, x)`` array with a geometry, atomically; return the path.

    Args:
        path: destination; the format follows the ending (``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd``).
        array: voxel values, integer or float; ``bool`` is written as ``uint8``.
        geometry: the grid; defaults to ``like.geometry``.
        like: the volume the array was computed from (a prediction's input). Its shape must match; its own
            header is reused where the formats agree, so the file's geometry fields are kept verbatim.
    """
    p = Path(path)
    kind = volume_format(p)
    if kind == "dicom":
        raise fail(p, "writing DICOM series is not supported", "write .mha (exact geometry) or .nii.gz instead")
    geometry = geometry or (like.geometry if like is not None else None)
    if geometry is None:
        raise UnetzooError(f"{p}: write_volume needs a geometry or like=; pass the input volume as like=")
    array = np.asarray(array)
    array = array.astype(np.uint8) if array.dtype == bool else array
    if array.ndim != 3:
        raise fail(p, f"array has shape {array.shape}, not (z, y, x)", "pass one 3D volume per file")
    if like is not None and like.array.shape != array.shape:
        what = f"array has shape {array.shape} but like={like.path.name} has {like.array.shape}"
        raise fail(p, what, "write the prediction at the input's size (resample it back first)")
    if array.dtype.kind not in _WRITABLE_KINDS or array.dtype.itemsize > 8:
        raise fail(p, f"cannot store dtype {array.dtype}", "cast to uint8 (labels), int16 or float32")
    backend = _backend(kind, p)
    header = like.header if like is not None and like.geometry == geometry else None
    ending = next(e for e in sorted(EXTENSIONS, key=len, reverse=True) if p.name.lower().endswith(e))
    try:
        if ending == ".mhd":  # two files (.mhd + .raw): the back end moves both into place itself
            backend.write_pair(p, np.ascontiguousarray(array), geometry)
        else:
            with atomic_path(p, ending) as tmp:
                backend.write(tmp, np.ascontiguousarray(array), geometry, header)
    except UnetzooError:
        raise
    except (OSError, ValueError, RuntimeError, *backend.ERRORS) as exc:
        what = f"could not be written ({_one_line(exc)})"
        raise fail(p, what, "check free space and permissions, then retry") from None
    return p
