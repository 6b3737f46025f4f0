"""Image polarity by the sign of the intensities' skew (:mod:`unetzoo.utils.polarity`), and the normalization
that uses it (``zscore_polarity``)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from unetzoo.data import Preprocess
from unetzoo.utils.polarity import negatively_skewed


def nuclei(bright: bool, coverage_disks: int = 6, colour: bool = False) -> np.ndarray:
    """A 96x96 image of a few disks (a minority of the pixels) on a noisy background: bright disks on dark, or
    dark on bright; ``colour``: purple disks on a pink background, as H&E."""
    rng = np.random.default_rng(0)
    inside = np.zeros((96, 96), bool)
    for k in range(coverage_disks):
        inside[disk((16 + 30 * (k // 3), 16 + 30 * (k % 3)), 8, shape=inside.shape)] = True
    if colour:
        image = np.where(inside[..., None], [110, 60, 150], [235, 180, 210]) + rng.normal(0, 8, (96, 96, 3))
    else:
        image = np.where(inside, 200, 30) + rng.normal(0, 8, (96, 96))
        image = image if bright else 255 - image
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("disks", [1, 6])
def test_the_skew_tells_bright_from_dark_objects(disks: int) -> None:
    assert not negatively_skewed(nuclei(bright=True, coverage_disks=disks))
    assert negatively_skewed(nuclei(bright=False, coverage_disks=disks))
    assert negatively_skewed(nuclei(bright=False, colour=True))
    assert not negatively_skewed(np.full((8, 8, 3), 7, np.uint8))  # flat: no skew


def test_zscore_polarity_shows_every_image_with_bright_objects() -> None:
    bright = nuclei(bright=True)
    dark = 255 - bright
    np.testing.assert_array_equal(Preprocess("zscore_polarity")(bright), Preprocess("zscore")(bright))
    flipped = Preprocess("zscore_polarity")(dark)
    np.testing.assert_array_equal(flipped, -Preprocess("zscore")(dark))
    np.testing.assert_allclose(flipped, Preprocess("zscore")(bright), atol=1e-5)
    colour = Preprocess("zscore_polarity", channels=3)(nuclei(bright=False, colour=True))
    inside = np.zeros((96, 96), bool)
    inside[disk((16, 16), 6, shape=inside.shape)] = True
    assert (colour[:, inside].mean(axis=1) > 0).all()  # the purple nuclei come out bright in every channel
