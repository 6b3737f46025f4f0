"""Where a volume's voxels are in the patient: spacing, origin and direction, in ITK's LPS convention.

Convention (the one SimpleITK, ITK, MetaImage, NRRD's ``left-posterior-superior`` space and DICOM use): the
physical point of voxel index ``(i, j, k)`` -- ``i`` along x (columns), ``j`` along y (rows), ``k`` along z
(slices), i.e. ``array[k, j, i]`` of a ``(z, y, x)`` array as ``SimpleITK.GetArrayFromImage`` returns -- is::

    point = origin + direction @ diag(spacing) @ (i, j, k)

in millimetres in LPS+ patient coordinates (x grows to the patient's Left, y to Posterior, z to Superior; DICOM
PS3.3 C.7.6.2.1.1). ``direction`` is the 3x3 matrix whose columns are the unit vectors of the i, j, k axes,
stored row-major like ``SimpleITK.Image.GetDirection()``; ``origin`` is the centre of voxel (0, 0, 0).

NIfTI (NIfTI-1 header, ``nifti1.h``, methods 2 and 3) stores a 4x4 ``affine`` from ``(i, j, k)`` to RAS+
(x to the Right, y to Anterior): ``LPS = diag(-1, -1, 1) @ RAS``, so ``direction @ diag(spacing) =
F @ affine[:3, :3]`` and ``origin = F @ affine[:3, 3]`` with ``F = diag(-1, -1, 1)``, which is what ITK's NIfTI
reader does. An affine with shear has no such decomposition and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])
_ORTHONORMAL_TOLERANCE = 1e-4
"""How far ``direction.T @ direction`` may be from the identity (ITK accepts a similar slack for NIfTI)."""


@dataclass(frozen=True)
class Geometry:
    """A 3D image grid in physical space (see the module docstring for the convention).

    Attributes:
        spacing: voxel size in mm along x, y, z (i, j, k), all positive.
        origin: LPS position in mm of the centre of voxel (0, 0, 0).
        direction: 9 numbers, the 3x3 direction matrix row-major (columns = unit axis vectors).

    ``==`` is exact (bit for bit); :meth:`matches` allows ITK's tolerance.
    """

    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, float, float, float, float, float, float, float, float] = (1, 0, 0, 0, 1, 0, 0, 0, 1)

    def __post_init__(self) -> None:
        for name, size in (("spacing", 3), ("origin", 3), ("direction", 9)):
            value = tuple(float(v) for v in np.asarray(getattr(self, name), dtype=np.float64).ravel())
            if len(value) != size or not all(np.isfinite(value)):
                raise ValueError(f"Geometry.{name} needs {size} finite numbers, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        if min(self.spacing) <= 0:
            raise ValueError(f"Geometry.spacing must be positive, got {self.spacing}")
        d = self.matrix
        if not np.allclose(d.T @ d, np.eye(3), atol=_ORTHONORMAL_TOLERANCE):
            raise ValueError(f"Geometry.direction is not orthonormal: {self.direction}")

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 direction matrix (a new float64 array)."""
        return np.array(self.direction, dtype=np.float64).reshape(3, 3)

    # --- NIfTI ----------------------------------------------------------------------------------------------
    @classmethod
    def from_affine(cls, affine: np.ndarray) -> Geometry:
        """The geometry of a NIfTI voxel-to-RAS ``affine`` (4x4); ``ValueError`` if it shears."""
        a = np.asarray(affine, dtype=np.float64)
        scaled = _LPS_FROM_RAS @ a[:3, :3]
        spacing = np.linalg.norm(scaled, axis=0)
        if not np.all(spacing > 0):
            raise ValueError("the affine has a zero-length axis")
        return cls(tuple(spacing), tuple(_LPS_FROM_RAS @ a[:3, 3]), tuple((scaled / spacing).ravel()))

    def to_affine(self) -> np.ndarray:
        """The NIfTI voxel-to-RAS affine (4x4 float64) of this geometry."""
        affine = np.eye(4)
        affine[:3, :3] = _LPS_FROM_RAS @ self.matrix @ np.diag(self.spacing)
        affine[:3, 3] = _LPS_FROM_RAS @ np.array(self.origin)
        return affine

    # --- comparison and serialization -----------------------------------------------------------------------
    def matches(self, other: Geometry, tolerance: float = 1e-6) -> bool:
        """Same grid up to ITK's default tolerances: origin and spacing within ``tolerance`` x the smallest
        spacing, direction within ``tolerance`` (``itk::ImageToImageFilter`` GlobalDefaultCoordinateTolerance
        and GlobalDefaultDirectionTolerance are both 1e-6)."""
        coordinate = tolerance * min(self.spacing)
        return (
            np.allclose(self.spacing, other.spacing, rtol=0, atol=coordinate)
            and np.allclose(self.origin, other.origin, rtol=0, atol=coordinate)
            and np.allclose(self.direction, other.direction, rtol=0, atol=tolerance)
        )

    def describe(self) -> str:
        """A short one-line text for error messages."""
        spacing = "x".join(f"{s:g}" for s in self.spacing)
        origin = ", ".join(f"{o:g}" for o in self.origin)
        return f"spacing {spacing} mm, origin ({origin})"

    def to_dict(self) -> dict[str, list[float]]:
        """A JSON-safe dict (floats survive ``json`` exactly: it writes ``repr``)."""
        return {"spacing": list(self.spacing), "origin": list(self.origin), "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Geometry:
        """Inverse of :meth:`to_dict`."""
        return cls(data["spacing"], data["origin"], data["direction"])
