"""synthetic:brain: deterministic by (seed, i), nested BraTS/MSD Task01 classes, distinct contrasts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from unetzoo.errors import UnetzooError
from unetzoo.volumes import brain_case, parse_brain_spec
from unetzoo.volumes.synthetic import CHANNEL_NAMES

SPEC = "synthetic:brain?n=4&size=48&seed=7"


def test_spec_parsing() -> None:
    spec = parse_brain_spec("synthetic:brain?n=3&size=20x40x36&modalities=2&seed=5")
    assert (spec.n, spec.size, spec.modalities, spec.seed) == (3, (20, 40, 36), 2, 5)
    assert parse_brain_spec(spec.spec) == spec and spec.channel_names == ("FLAIR", "T1w")
    assert parse_brain_spec("synthetic:brain").size == (64, 64, 64)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("synthetic:brain?modalities=5", "modalities='5' is invalid"),
        ("synthetic:brain?size=10x20", "size='10x20' is invalid"),
        ("synthetic:brain?depth=3", "unknown option(s) depth"),
        ("synthetic:nuclei", "is not a synthetic:brain spec"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(UnetzooError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_brain_spec(spec)


def test_case_depends_only_on_seed_and_index() -> None:
    a, b = brain_case(SPEC, 2), brain_case(parse_brain_spec(SPEC), 2)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label) and a.geometry == b.geometry
    other = brain_case(SPEC, 1)
    assert not np.array_equal(a.label, other.label)
    assert not np.array_equal(a.label, brain_case(SPEC.replace("seed=7", "seed=8"), 2).label)
    with pytest.raises(IndexError):
        brain_case(SPEC, 4)


def test_shapes_dtypes_geometry() -> None:
    case = brain_case("synthetic:brain?n=1&size=20x36x40&modalities=3", 0)
    assert case.image.shape == (3, 20, 36, 40) and case.image.dtype == np.int16
    assert case.label.shape == (20, 36, 40) and case.label.dtype == np.uint8
    assert case.geometry.spacing == (1.0, 1.0, 1.0) and case.geometry.origin == (-19.5, -17.5, -9.5)
    assert (case.image[:, case.label == 0] >= 0).all()


@pytest.mark.parametrize("i", range(4))
def test_classes_nest(i: int) -> None:
    label = brain_case(SPEC, i).label
    assert set(np.unique(label)) == {0, 1, 2, 3}
    # the tumour core {2, 3} lies inside the oedema: it never touches background
    assert not (ndimage.binary_dilation(label >= 2) & (label == 0)).any()
    # the enhancing rim {3} encloses the necrotic core {2}: necrosis never touches oedema or background
    assert not (ndimage.binary_dilation(label == 2) & (label <= 1)).any()


def test_modalities_have_their_contrasts() -> None:
    case = brain_case(SPEC, 0)
    mean = {name: [case.image[c][case.label == k].mean() for k in range(4)] for c, name in enumerate(CHANNEL_NAMES)}
    assert mean["FLAIR"][1] > mean["T1w"][1]  # oedema bright in FLAIR
    assert mean["T1gd"][3] > 1.5 * mean["T1w"][3]  # the enhancing rim lights up with gadolinium
    assert mean["T1gd"][3] > mean["T1gd"][2]  # the necrotic core it encloses does not
