"""synthetic:membranes and synthetic:nuclei: deterministic by seed, exact masks, any size and count."""

from __future__ import annotations

import numpy as np
import pytest

from unetzoo.data import check_source, open_source
from unetzoo.errors import UnetzooError


@pytest.mark.parametrize("kind", ["membranes", "nuclei"])
def test_deterministic_and_index_addressable(kind: str) -> None:
    a = open_source(f"synthetic:{kind}?n=3&size=48x64&seed=5")
    b = open_source(f"synthetic:{kind}?n=9&size=48x64&seed=5")
    c = open_source(f"synthetic:{kind}?n=3&size=48x64&seed=6")
    for x, y in zip(a.load_native(2), b.load_native(2), strict=True):
        np.testing.assert_array_equal(x, y)  # sample 2 does not depend on n or on other samples
    assert not np.array_equal(a.load_native(2)[0], c.load_native(2)[0])
    image, mask = a.load(2)
    assert image.shape[:2] == mask.shape == (48, 64)
    assert set(np.unique(mask)) == {0, 1}
    assert a.fingerprint() == open_source(a.spec).fingerprint() != c.fingerprint()


def test_defaults_channels_and_structure() -> None:
    membranes = open_source("synthetic:membranes?n=2&size=96")
    nuclei = open_source("synthetic:nuclei?n=2&size=96&channels=1")
    assert membranes.name == "synthetic:membranes?n=2&size=96&seed=0&channels=1" and membranes.in_channels == 1
    assert nuclei.in_channels == 1 and open_source("synthetic:nuclei?n=1").in_channels == 3
    assert membranes.class_names == ["membrane", "cell"] and nuclei.class_names == ["background", "nucleus"]
    image, mask = membranes.load(0)
    assert 0.5 < mask.mean() < 0.95  # mostly cells, thin membranes
    assert image[mask == 0].mean() < image[mask == 1].mean() - 30  # membranes are dark
    image, mask = nuclei.load(0)
    assert 0.02 < mask.mean() < 0.6
    assert image[mask == 1].mean() > image[mask == 0].mean() + 30  # nuclei are bright
    assert check_source("synthetic:nuclei?n=4&size=64").ok


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("synthetic:cells", "unknown synthetic dataset"),
        ("synthetic:nuclei?count=3", "unknown option"),
        ("synthetic:nuclei?n=0", "n='0' is invalid"),
        ("synthetic:nuclei?size=8", "size='8' is invalid"),
        ("synthetic:nuclei?size=4x4x4", "size='4x4x4' is invalid"),
        ("synthetic:nuclei?channels=2", "channels=2 is invalid"),
        ("synthetic:nuclei?n", "cannot parse"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(UnetzooError, match=message):
        open_source(spec)
