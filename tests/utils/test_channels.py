"""Channel conversion for the channels a model takes (``unetzoo.utils.channels``): the data layer's rules."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unetzoo.errors import UnetzooError
from unetzoo.utils.channels import convert_channels, convertible


def test_gray_is_replicated_for_an_rgb_model() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = convert_channels(gray, 3)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_colour_to_gray_is_pillows_luma() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    ours = convert_channels(rgb, 1)[..., 0]
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32)  # Pillow rounds to uint8
    assert np.abs(ours - pillow).max() <= 0.5 + 1e-3


@pytest.mark.parametrize(("have", "want"), [(2, 3), (1, 4), (3, 2), (5, 3), (1, 2), (4, 3), (4, 1)])
def test_a_mismatch_without_a_meaning_is_one_line_naming_the_image(have: int, want: int) -> None:
    assert not convertible(have, want)
    with pytest.raises(UnetzooError, match=rf"^cells.tif: has {have} channel\(s\) but the model expects {want}; "):
        convert_channels(np.zeros((4, 4, have), np.uint8), want, "cells.tif")


def test_no_target_keeps_the_image_and_a_volume_is_refused() -> None:
    image = np.zeros((4, 4, 2), np.uint8)
    assert convert_channels(image, None).shape == (4, 4, 2)
    with pytest.raises(UnetzooError, match=r"stack\.tif: expected an HxW or HxWxC image"):
        convert_channels(np.zeros((2, 4, 4, 3)), 3, "stack.tif")


def test_gray_stored_as_rgb_gives_exactly_its_gray_values() -> None:
    gray = np.random.default_rng(2).integers(0, 65536, (7, 9), dtype=np.uint16)
    stored = np.stack([gray, gray, gray], axis=2)
    np.testing.assert_array_equal(convert_channels(stored, 1)[..., 0], gray.astype(np.float32))
