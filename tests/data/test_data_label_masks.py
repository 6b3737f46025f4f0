"""``unetzoo data instances``: instance labels derived from masks as connected components, written atomically,
never over labels the user has unless asked, and never over the labels the masks are read from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datagen import gray_image, save, snapshot
from scipy import ndimage

from unetzoo.cli import main
from unetzoo.data import open_source
from unetzoo.data.io import read_image
from unetzoo.data.label_masks import label_masks, uint16_components
from unetzoo.errors import UnetzooError


def mask_of(i: int) -> np.ndarray:
    """Two 3x3 squares apart, one pair touching at a corner only, and on image 2 a large blob."""
    mask = np.zeros((32, 32), np.uint8)
    mask[1:4, 1:4] = 255
    mask[1:4, 10:13] = 255
    mask[20:23, 20:23] = 255
    mask[23:26, 23:26] = 255  # touches the square above at one corner
    if i == 2:
        mask[8:19, 1:12] = 255  # 121 px against the others' 9: far above the typical object
    return mask


def mask_folder(root: Path, n: int = 3) -> Path:
    for i in range(n):
        save(root / "images" / f"img{i}.png", gray_image(32, 32, seed=i))
        save(root / "masks" / f"img{i}.png", mask_of(i))
    return root


def test_components_of_random_masks_match_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        mask = (rng.random((40, 50)) > 0.6).astype(np.uint8) * 3
        for connectivity, structure in ((4, None), (8, np.ones((3, 3)))):
            expected, count = ndimage.label(mask > 0, structure=structure)
            got = uint16_components(mask, connectivity)
            assert got.dtype == np.uint16 and int(got.max()) == count
            np.testing.assert_array_equal(got, expected)


def test_writes_one_label_image_per_sample_that_training_reads(tmp_path: Path) -> None:
    root = mask_folder(tmp_path / "ds")
    done = label_masks(open_source(root))
    assert done.folder == root / "instances" and done.images == 3
    assert done.objects == 4 + 4 + 5  # the corner-touching pair is two objects with 4-connectivity
    assert done.large == ("img2",)
    labels = read_image(root / "instances" / "img0.png", mask=True)
    assert labels.dtype == np.uint16 and int(labels.max()) == 4
    src = open_source(root)
    assert src.has_instances
    np.testing.assert_array_equal(src.read_instances(2) > 0, src.load(2)[1] > 0)
    assert not list(tmp_path.glob("ds/.instances*"))  # no temporary folder left


def test_connectivity_8_joins_corner_neighbours(tmp_path: Path) -> None:
    done = label_masks(open_source(mask_folder(tmp_path / "ds")), connectivity=8)
    assert done.objects == 3 + 3 + 4


def test_existing_labels_are_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = mask_folder(tmp_path / "ds")
    assert main(["data", "instances", str(root)]) == 0
    assert "wrote 13 objects in 3 label images" in capsys.readouterr().out
    save(root / "instances" / "img0.png", np.full((32, 32), 9, np.uint16))  # the user's own edit
    before = snapshot(root)
    assert main(["data", "instances", str(root)]) != 0
    err = capsys.readouterr().err.strip()
    assert "instances: exists" in err and "--force" in err and len(err.splitlines()) == 1
    assert snapshot(root) == before
    assert main(["data", "instances", str(root), "--force"]) == 0
    assert int(read_image(root / "instances" / "img0.png", mask=True).max()) == 4


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("instances", "masks are read from these instance labels"),  # no masks/: derived from instances/
        # StarDist's layout: the masks hold the ids already; their components would merge the corner-touching pair
        ("masks", r"masks: the masks hold one id per object, .*; nothing to derive"),
    ],
)
def test_refuses_labels_that_hold_the_objects_already(tmp_path: Path, folder: str, message: str) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        save(root / "images" / f"img{i}.png", gray_image(32, 32, seed=i))
        save(root / folder / f"img{i}.png", ndimage.label(mask_of(i))[0].astype(np.uint16))
    before = snapshot(root)
    with pytest.raises(UnetzooError, match=message):
        label_masks(open_source(root), force=True)
    assert snapshot(root) == before


def test_refuses_data_without_an_images_folder(tmp_path: Path) -> None:
    save(tmp_path / "flat" / "img0.png", gray_image(32, 32, seed=0))
    save(tmp_path / "flat" / "img0_mask.png", mask_of(0))
    with pytest.raises(UnetzooError, match="beside images/ of a folder dataset"):
        label_masks(open_source(tmp_path / "flat"))


def test_refuses_the_bundled_data() -> None:
    src = open_source("builtin:nuclei")
    before = snapshot(Path(src.root))
    with pytest.raises(UnetzooError, match="bundled datasets are part of the package"):
        label_masks(src, force=True)
    assert snapshot(Path(src.root)) == before


def test_more_objects_than_uint16_holds_names_the_mask_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    dots = np.zeros((512, 512), np.uint8)
    dots[::2, ::2] = 255  # 65,536 isolated pixels: one more object than a uint16 label image holds
    save(root / "images" / "dots.png", gray_image(512, 512, seed=0))
    save(root / "masks" / "dots.png", dots)
    before = snapshot(root)
    with pytest.raises(UnetzooError, match=r"masks/dots\.png: 65536 objects do not fit uint16 labels"):
        label_masks(open_source(root))
    assert snapshot(root) == before and not list(root.glob(".instances*"))


def test_positive_picks_one_class_of_a_multiclass_mask(tmp_path: Path) -> None:
    """``--positive V``: only the pixels stored as V are objects (one class of a multi-class mask); without it
    every non-background class is."""
    root = tmp_path / "ds"
    mask = np.zeros((32, 32), np.uint8)
    mask[1:5, 1:5] = 1  # class 1: one object
    mask[10:16, 10:16] = 2  # class 2: two objects
    mask[20:26, 2:8] = 2
    save(root / "images" / "a.png", gray_image(32, 32, seed=0))
    save(root / "masks" / "a.png", mask)
    assert main(["data", "instances", str(root), "--positive", "2"]) == 0
    labels = read_image(root / "instances" / "a.png", mask=True)
    assert int(labels.max()) == 2
    np.testing.assert_array_equal(labels > 0, mask == 2)
    assert main(["data", "instances", str(root), "--force"]) == 0
    labels = read_image(root / "instances" / "a.png", mask=True)
    assert int(labels.max()) == 3
    np.testing.assert_array_equal(labels > 0, mask > 0)
