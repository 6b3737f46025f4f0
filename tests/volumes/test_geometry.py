"""Geometry: the LPS convention, NIfTI affines, JSON and tolerance comparisons."""

from __future__ import annotations

import json

import numpy as np
import pytest
from volgen import oblique

from unetzoo.volumes import Geometry


@pytest.mark.parametrize("left_handed", [False, True])
def test_affine_round_trip_and_lps_mapping(left_handed: bool) -> None:
    g = oblique(left_handed=left_handed)
    affine = g.to_affine()
    back = Geometry.from_affine(affine)
    assert back.matches(g, tolerance=1e-12)
    # voxel (i, j, k) lands at origin + D diag(s) (i, j, k) in LPS, i.e. (-x, -y, z) of the affine's RAS point
    ijk = np.array([3.0, 5.0, 7.0])
    lps = np.array(g.origin) + g.matrix @ (np.array(g.spacing) * ijk)
    ras = affine @ np.append(ijk, 1.0)
    np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-12)


def test_json_round_trip_is_exact() -> None:
    g = oblique()
    assert Geometry.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_matches_uses_itk_tolerance_and_eq_is_exact() -> None:
    g = oblique()
    near = Geometry(g.spacing, np.add(g.origin, 1e-9), g.direction)
    far = Geometry(g.spacing, np.add(g.origin, 1e-3), g.direction)
    assert near != g and near.matches(g) and not far.matches(g)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spacing": (1, 0, 1), "origin": (0, 0, 0)}, "positive"),
        ({"spacing": (1, 1), "origin": (0, 0, 0)}, "3 finite numbers"),
        ({"spacing": (1, 1, 1), "origin": (0, 0, 0), "direction": (1, 0.5, 0, 0, 1, 0, 0, 0, 1)}, "orthonormal"),
    ],
)
def test_invalid_geometry_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Geometry(**kwargs)


def test_sheared_affine_is_refused() -> None:
    affine = np.eye(4)
    affine[0, 1] = 0.3
    with pytest.raises(ValueError, match="orthonormal"):
        Geometry.from_affine(affine)
