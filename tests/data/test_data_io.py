"""unetzoo.data.io: native dtypes and channels, headers without decoding, the pixel limit, lossless writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from datagen import png_claiming, save
from PIL import Image

from unetzoo.data import io
from unetzoo.errors import UnetzooError


@pytest.mark.parametrize(
    ("name", "array", "kwargs"),
    [
        ("gray.png", np.arange(64, dtype=np.uint8).reshape(8, 8), {}),
        ("rgb.png", np.arange(192, dtype=np.uint8).reshape(8, 8, 3), {}),
        ("gray16.png", (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8), {}),
        ("gray.bmp", np.arange(64, dtype=np.uint8).reshape(8, 8), {}),
        ("gray.gif", np.arange(64, dtype=np.uint8).reshape(8, 8), {}),
    ],
)
def test_lossless_formats_round_trip(tmp_path: Path, name: str, array: np.ndarray, kwargs: dict) -> None:
    path = save(tmp_path / name, array, **kwargs)
    info = io.image_info(path)
    assert (info.height, info.width) == (8, 8)
    out = io.read_image(path)
    assert out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


def test_jpeg_reads_as_rgb(tmp_path: Path) -> None:
    path = save(tmp_path / "a.jpg", np.full((8, 8, 3), 128, np.uint8), quality=95)
    assert io.image_info(path).format == "JPEG"
    assert io.read_image(path).shape == (8, 8, 3)


def test_tiff_16bit_float_and_channel_first(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "u16.tif", np.full((6, 5, 3), 4000, np.uint16), photometric="rgb")
    assert io.read_image(tmp_path / "u16.tif").dtype == np.uint16
    assert io.read_image(tmp_path / "u16.tif").shape == (6, 5, 3)
    tifffile.imwrite(tmp_path / "f.tiff", np.linspace(0, 1, 30, dtype=np.float32).reshape(6, 5))
    assert io.image_info(tmp_path / "f.tiff").dtype == "float32"
    tifffile.imwrite(tmp_path / "cyx.tif", np.zeros((2, 6, 5), np.uint16), imagej=True, metadata={"axes": "CYX"})
    assert io.read_image(tmp_path / "cyx.tif").shape == (6, 5, 2)


def test_alpha_dropped_palette_kept_for_masks(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 17
    path = save(tmp_path / "rgba.png", rgba)
    assert io.image_info(path).channels == 4
    np.testing.assert_array_equal(io.read_image(path), rgba[..., :3])
    pal = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(io.read_image(tmp_path / "pal.png", mask=True), [[0, 1], [2, 1]])
    assert io.read_image(tmp_path / "pal.png").shape == (2, 2, 3)


def test_tiff_alpha_only_when_declared(tmp_path: Path) -> None:
    """A TIFF's 4th sample is dropped only when the file declares it alpha; an ImageJ hyperstack of four stains
    keeps all four (it used to lose its last stain as if it were alpha)."""
    stains = np.arange(4 * 6 * 5, dtype=np.uint16).reshape(4, 6, 5)
    tifffile.imwrite(tmp_path / "stains.tif", stains, imagej=True, metadata={"axes": "CYX"})
    info = io.image_info(tmp_path / "stains.tif")
    assert (info.channels, info.alpha) == (4, False)
    np.testing.assert_array_equal(io.read_image(tmp_path / "stains.tif"), np.moveaxis(stains, 0, -1))
    rgba = np.arange(6 * 5 * 4, dtype=np.uint8).reshape(6, 5, 4)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "pil_rgba.tif")
    for name in ("rgba.tif", "pil_rgba.tif"):
        assert io.image_info(tmp_path / name).alpha
        np.testing.assert_array_equal(io.read_image(tmp_path / name), rgba[..., :3])


def test_pixel_limit_is_checked_from_the_header(tmp_path: Path) -> None:
    with pytest.raises(UnetzooError, match="67,108,864-pixel limit") as huge:
        io.image_info(png_claiming(tmp_path / "bomb.png", 100_000, 100_000))
    assert str(tmp_path / "bomb.png") in str(huge.value)
    # Below Pillow's own guard but above ours: the message gives the claimed size.
    with pytest.raises(UnetzooError, match=r"9000x9000 \(HxW\) pixels, over the 67,108,864-pixel limit"):
        io.read_image(png_claiming(tmp_path / "big.png", 9000, 9000))


def test_write_image_is_lossless_and_atomic(tmp_path: Path) -> None:
    for name, array in [
        ("m.png", np.arange(12, dtype=np.uint8).reshape(3, 4)),
        ("p.tif", np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)),
        ("stack.tif", np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
    ]:
        io.write_image(tmp_path / name, array)
    np.testing.assert_array_equal(io.read_image(tmp_path / "m.png"), np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(
        io.read_image(tmp_path / "p.tif"), np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    )
    assert io.stack_info(tmp_path / "stack.tif")[0] == 2
    np.testing.assert_array_equal(io.read_stack_slice(tmp_path / "stack.tif", 1), np.arange(12, 24).reshape(3, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png", "p.tif", "stack.tif"]
    with pytest.raises(UnetzooError, match="losslessly"):
        io.write_image(tmp_path / "x.jpg", np.zeros((2, 2), np.uint8))


def test_predict_reads_a_channel_hyperstack_as_one_image_and_a_stack_as_slices(tmp_path: Path) -> None:
    """An ImageJ hyperstack stores one page per channel: prediction reads it as the data layer does (one image of
    four channels), while pages of slices stay a stack."""
    from unetzoo.engine.predict import collect_inputs

    stains = np.arange(4 * 6 * 5, dtype=np.uint8).reshape(4, 6, 5)
    tifffile.imwrite(tmp_path / "stains.tif", stains, imagej=True, metadata={"axes": "CYX"})
    io.write_image(tmp_path / "slices.tif", stains)  # one page per slice
    assert io.is_2d_tiff(tmp_path / "stains.tif") and not io.is_2d_tiff(tmp_path / "slices.tif")
    inputs = {item.path.name: item for item in collect_inputs([tmp_path])}
    assert (inputs["stains.tif"].slices, inputs["slices.tif"].slices) == (1, 4)
    np.testing.assert_array_equal(next(inputs["stains.tif"].images()), np.moveaxis(stains, 0, -1))
