"""NRRD (``.nrrd``) through pynrrd.

Geometry from the header fields of the NRRD format (teem.sourceforge.net/nrrd/format.html): ``space
directions`` holds one vector per axis (voxel step, i.e. direction x spacing), ``space origin`` the centre of
the first voxel, ``space`` the frame: ``left-posterior-superior`` (ITK's) or ``right-anterior-superior``
(x and y negated to reach LPS). A header without ``space`` but with ``spacings`` is axis-aligned at origin 0.
pynrrd writes these numbers with 17 significant digits and :func:`write` copies a ``like`` header's fields
verbatim, so a read-write-read cycle reproduces them exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nrrd
import numpy as np

from unetzoo.data.problems import fail
from unetzoo.volumes.geometry import Geometry
from unetzoo.volumes.io import Volume, check_3d

ERRORS: tuple[type[Exception], ...] = (nrrd.NRRDError,)

_FLIP = {"left-posterior-superior": (1.0, 1.0, 1.0), "right-anterior-superior": (-1.0, -1.0, 1.0)}
_ALIASES = {"lps": "left-posterior-superior", "ras": "right-anterior-superior"}
_GEOMETRY_FIELDS = ("space", "space directions", "space origin", "kinds", "encoding")


def _geometry(path: Path, header: dict[str, Any]) -> Geometry:
    if "space directions" not in header:
        spacings = header.get("spacings", [1.0, 1.0, 1.0])
        return Geometry(spacings, (0.0, 0.0, 0.0))
    space = str(header.get("space", "")).lower()
    space = _ALIASES.get(space, space)
    if space not in _FLIP:
        raise fail(path, f"has space {header.get('space')!r}", "save it in left-posterior-superior (LPS) space")
    flip = np.array(_FLIP[space])
    steps = np.asarray(header["space directions"], dtype=np.float64) * flip  # rows: the i, j, k steps
    origin = np.asarray(header.get("space origin", np.zeros(3)), dtype=np.float64) * flip
    spacing = np.linalg.norm(steps, axis=1)
    return Geometry(spacing, origin, (steps / spacing[:, None]).T.ravel())


def read(path: Path) -> Volume:
    """Read a 3D scalar ``.nrrd``."""
    data, header = nrrd.read(str(path), index_order="C")
    check_3d(path, tuple(reversed(data.shape)))
    try:
        geometry = _geometry(path, header)
    except ValueError as exc:
        raise fail(path, f"has no valid space directions ({exc})", "fix the header or re-export the file") from None
    array = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("="))
    return Volume(array, geometry, data.dtype, path, header)


def info(path: Path) -> tuple[tuple[int, int, int], Geometry]:
    """Shape ``(z, y, x)`` and geometry from the header alone."""
    header = nrrd.read_header(str(path))
    x, y, z = check_3d(path, tuple(int(n) for n in header["sizes"]))
    try:
        return (z, y, x), _geometry(path, header)
    except ValueError as exc:
        raise fail(path, f"has no valid space directions ({exc})", "fix the header or re-export the file") from None


def write(tmp: Path, array: np.ndarray, geometry: Geometry, header: object) -> None:
    """Write ``array`` (z, y, x): with a ``like`` NRRD ``header`` (whose geometry is ``geometry``) its space
    fields are copied verbatim; else in LPS space from ``geometry``, gzip-encoded."""
    if isinstance(header, dict) and "space directions" in header:
        fields = {k: header[k] for k in _GEOMETRY_FIELDS if k in header}
    else:
        steps = (geometry.matrix @ np.diag(geometry.spacing)).T
        fields = {
            "space": "left-posterior-superior",
            "space directions": steps,
            "space origin": np.array(geometry.origin),
            "kinds": ["domain"] * 3,
            "encoding": "gzip",
        }
    nrrd.write(str(tmp), array, fields, index_order="C")
