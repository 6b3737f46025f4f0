"""The corpus of broken inputs, generated in tmp_path: each one gets a one-line message naming the file, a
non-zero exit from the CLI, no traceback, and nothing written (neither by ``check`` nor by ``convert``).

16-bit images, RGBA images and unicode/space paths are supported inputs (issue: formats), so the corpus checks
that they are read correctly, and rejects their broken variants (a 16-bit mask with stray values, a truncated
file under a unicode name).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from datagen import MakeFolder, blob_mask, gray_image, png_claiming, save, snapshot

from unetzoo.cli import main
from unetzoo.data import check_source, open_source
from unetzoo.errors import UnetzooError

Corrupt = Callable[[Path], tuple[Path, str]]


def zero_byte(root: Path) -> tuple[Path, str]:
    (p := root / "images" / "img0.png").write_bytes(b"")
    return p, "empty (0 bytes)"


def truncated_png(root: Path) -> tuple[Path, str]:
    p = root / "images" / "img1.png"
    p.write_bytes(p.read_bytes()[:-40])
    return p, "truncated or corrupt PNG"


def wrong_extension(root: Path) -> tuple[Path, str]:
    p = root / "images" / "img0.jpg"
    (root / "images" / "img0.png").rename(p)
    return p, "contains PNG data but is named .jpg; rename it to img0.png"


def non_image(root: Path) -> tuple[Path, str]:
    (p := root / "images" / "img2.png").write_text("this is not an image\n")
    return p, "not an image Pillow can identify"


def unsupported_file(root: Path) -> tuple[Path, str]:
    (p := root / "images" / "notes.txt").write_text("acquired on Tuesday\n")
    return p, "unsupported extension '.txt'"


def mismatched_sizes(root: Path) -> tuple[Path, str]:
    p = save(root / "masks" / "img1.png", blob_mask(24, 32, seed=1))
    return p, "mask is 24x32 (HxW) but its image is 32x32"


def stray_values(root: Path) -> tuple[Path, str]:
    mask = blob_mask(32, 32, seed=2)
    mask[0, :5] = 128
    p = save(root / "masks" / "img2.png", mask)
    return p, "stray values {128} in a binary mask of {0, 255}"


def stray_values_16bit(root: Path) -> tuple[Path, str]:
    for i in range(3):
        save(root / "masks" / f"img{i}.png", blob_mask(32, 32, seed=i).astype(np.uint16) * 257)
    mask = blob_mask(32, 32, seed=0).astype(np.uint16) * 257
    mask[5, 5] = 1000
    p = save(root / "masks" / "img0.png", mask)
    return p, "stray values {1000} in a binary mask of {0, 65535}"


def huge_header(root: Path) -> tuple[Path, str]:
    p = png_claiming(root / "images" / "img1.png", 100_000, 100_000)
    return p, "over the 67,108,864-pixel limit (decompression-bomb guard)"


def missing_mask(root: Path) -> tuple[Path, str]:
    (root / "masks" / "img2.png").unlink()
    return root / "images" / "img2.png", "no mask in masks/"


def multipage_tiff_image(root: Path) -> tuple[Path, str]:
    (root / "images" / "img1.png").unlink()
    tifffile.imwrite(p := root / "images" / "img1.tif", np.zeros((5, 32, 32), np.uint8), photometric="minisblack")
    return p, "not one 2D image"


def unicode_truncated(root: Path) -> tuple[Path, str]:
    p = save(root / "images" / "ñúcleo 7.png", gray_image(32, 32, seed=7))
    save(root / "masks" / "ñúcleo 7_mask.png", blob_mask(32, 32, seed=7))
    p.write_bytes(p.read_bytes()[:60])
    return p, "truncated or corrupt PNG"


CORPUS: list[Corrupt] = [
    zero_byte,
    truncated_png,
    wrong_extension,
    non_image,
    unsupported_file,
    mismatched_sizes,
    stray_values,
    stray_values_16bit,
    huge_header,
    missing_mask,
    multipage_tiff_image,
    unicode_truncated,
]


@pytest.mark.parametrize("corrupt", CORPUS, ids=lambda f: f.__name__)
def test_broken_input_is_refused_with_one_line(
    corrupt: Corrupt, make_folder: MakeFolder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_folder(n=3, name="dätä sét")
    bad, expected = corrupt(root)
    before = snapshot(root)

    report = check_source(root)
    assert not report.ok
    assert any(p.file == str(bad) and expected in p.message for p in report.errors), report.problems

    assert main(["data", "check", str(root)]) == 1
    out, err = capsys.readouterr()
    assert f"error: {bad}: " in out and expected in out
    assert "Traceback" not in out + err

    with pytest.raises(UnetzooError) as refused:  # open or load: the same one-line style, never another type
        src = open_source(root)
        for i in range(len(src)):
            src.load(i)
    assert "\n" not in str(refused.value) and str(root) in str(refused.value)

    out_dir = tmp_path / "nnunet_raw"
    assert main(["data", "convert", str(root), str(out_dir)]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("unetzoo: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out_dir.exists()
    assert snapshot(root) == before


def test_16bit_rgba_and_unicode_paths_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "dätä sét"
    image16 = (gray_image(32, 32, seed=0).astype(np.uint16) * 16).astype(np.uint16)
    save(root / "images" / "sixteen bit.png", image16)
    rgba = np.dstack([np.stack([gray_image(32, 32, seed=1)] * 3, axis=-1), np.full((32, 32), 99, np.uint8)])
    save(root / "images" / "ñúcleo 1.png", rgba)
    save(root / "masks" / "sixteen bit_mask.png", blob_mask(32, 32, seed=0))
    save(root / "masks" / "ñúcleo 1_label.png", blob_mask(32, 32, seed=1))

    assert main(["data", "check", str(root)]) == 0
    out, _ = capsys.readouterr()
    assert "1 RGBA and 0 palette images: alpha is ignored" in out
    src = open_source(root)
    assert src.ids == ["sixteen bit", "ñúcleo 1"] and src.in_channels == 3
    image, mask = src.load(0)
    np.testing.assert_array_equal(image[..., 0], image16.astype(np.float32))  # 16-bit values kept exactly
    np.testing.assert_array_equal(mask, blob_mask(32, 32, seed=0) // 255)
    np.testing.assert_array_equal(src.load(1)[0], rgba[..., :3].astype(np.float32))
