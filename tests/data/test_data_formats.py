"""Format detection and the readers: folder pairs, nnU-Net raw v2, TIFF stacks, builtin:, mask value rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from datagen import MakeFolder, blob_mask, gray_image, save
from PIL import Image

from unetzoo.data import BUILTIN, check_source, detect_format, open_source
from unetzoo.errors import UnetzooError
from unetzoo.metrics import score_folders
from unetzoo.planning.fingerprint import compute_fingerprint


def test_folder_pairs_suffixes_extensions_and_natural_order(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    for i, (stem, mask_name) in enumerate(
        [("cell10", "cell10_mask.png"), ("cell2", "cell2_label.png"), ("cell1", "cell1.png")]
    ):
        save(root / "images" / f"{stem}.jpg" if i == 0 else root / "images" / f"{stem}.tif", gray_image(16, 16, i))
        save(root / "labels" / mask_name, blob_mask(16, 16, i))
    (root / "images" / ".DS_Store").write_bytes(b"junk")
    src = open_source(root)
    assert detect_format(root) == "folder" and src.format == "folder"
    assert src.ids == ["cell1", "cell2", "cell10"]
    assert src.image_path(2).endswith("cell10.jpg") and src.mask_path(2).endswith("cell10_mask.png")
    image, mask = src.load(1)
    assert image.shape == (16, 16, 1) and image.dtype == np.float32
    assert mask.dtype == np.int64 and set(np.unique(mask)) <= {0, 1}
    np.testing.assert_array_equal(mask, blob_mask(16, 16, 1) // 255)


def test_public_sets_mask_suffixes(tmp_path: Path) -> None:
    """ISIC names its masks ``<image>_segmentation.png``; ``_seg`` and ``_gt`` are common too."""
    for stem, mask in (("ISIC_0000001", "ISIC_0000001_segmentation"), ("b", "b_seg"), ("c", "c_GT")):
        save(tmp_path / "images" / f"{stem}.jpg", gray_image(8, 8, 0))
        save(tmp_path / "masks" / f"{mask}.png", blob_mask(8, 8, 0))
    src = open_source(tmp_path)
    assert src.ids == ["ISIC_0000001", "b", "c"] and src.mask_path(2).endswith("c_GT.png")


def test_images_without_a_masks_folder_names_the_folders_there(tmp_path: Path) -> None:
    """DRIVE keeps its vessel labels in 1st_manual/ and a field-of-view mask in mask/: say what is there, and
    nothing about class ids of masks that were never read."""
    save(tmp_path / "images" / "21_training.png", gray_image(8, 8, 0))
    save(tmp_path / "1st_manual" / "21_manual1.png", blob_mask(8, 8, 0))
    (tmp_path / "mask").mkdir()
    assert check_source(tmp_path).problems == [
        f"error: {tmp_path}: has images/ but no masks/ folder (it has 1st_manual/, mask/); put the masks in "
        "masks/ (or instance labels in instances/), named after their images"
    ]


def test_flat_folder_and_mixed_gray_rgb(tmp_path: Path) -> None:
    save(tmp_path / "a.png", gray_image(8, 8, 0))
    save(tmp_path / "b.png", np.stack([gray_image(8, 8, 1)] * 3, axis=-1))
    for stem in "ab":
        save(tmp_path / f"{stem}_mask.png", blob_mask(8, 8, 0))
    src = open_source(tmp_path)
    assert src.ids == ["a", "b"] and src.in_channels == 3
    image, _ = src.load(0)
    assert image.shape == (8, 8, 3) and (image[..., 0] == image[..., 2]).all()
    report = check_source(tmp_path)
    assert report.ok and any("replicated to 3 channels" in p for p in report.problems)


def test_multiclass_ids_palette_and_declared_labels(tmp_path: Path) -> None:
    ids = np.array([[0, 1], [2, 2]], np.uint8)
    save(tmp_path / "ids" / "images" / "x.png", gray_image(2, 2, 0))
    save(tmp_path / "ids" / "masks" / "x.png", ids)
    src = open_source(tmp_path / "ids")
    assert src.classes == 3 and src.class_names == ["background", "class1", "class2"]
    np.testing.assert_array_equal(src.load(0)[1], ids)

    colours = np.array([[[0, 0, 0], [255, 0, 0]], [[0, 255, 0], [255, 0, 0]]], np.uint8)
    save(tmp_path / "rgb" / "images" / "x.png", gray_image(2, 2, 0))
    save(tmp_path / "rgb" / "masks" / "x.png", colours)
    src = open_source(tmp_path / "rgb")
    assert src.class_names == ["background", "#00ff00", "#ff0000"]
    np.testing.assert_array_equal(src.load(0)[1], [[0, 2], [1, 2]])

    (tmp_path / "rgb" / "labels.json").write_text(json.dumps({"bg": [0, 0, 0], "tumour": "#ff0000", "x": "#00ff00"}))
    src = open_source(tmp_path / "rgb")
    assert src.class_names == ["bg", "tumour", "x"]
    np.testing.assert_array_equal(src.load(0)[1], [[0, 1], [2, 1]])

    pal = Image.fromarray(ids, mode="P")
    pal.putpalette([0, 0, 0, 255, 255, 0, 0, 0, 255])
    save(tmp_path / "pal" / "images" / "x.png", gray_image(2, 2, 0))
    (tmp_path / "pal" / "masks").mkdir()
    pal.save(tmp_path / "pal" / "masks" / "x.png")
    np.testing.assert_array_equal(open_source(tmp_path / "pal").load(0)[1], ids)

    gray3 = np.array([[0, 128], [255, 128]], np.uint8)
    save(tmp_path / "g3" / "images" / "x.png", gray_image(2, 2, 0))
    save(tmp_path / "g3" / "masks" / "x.png", gray3)
    assert not check_source(tmp_path / "g3").ok  # {0, 128, 255}: stray values unless declared
    (tmp_path / "g3" / "labels.json").write_text('{"background": 0, "cell": 255, "border": 128}')
    np.testing.assert_array_equal(open_source(tmp_path / "g3").load(0)[1], [[0, 2], [1, 2]])


def test_positive_and_invert(make_folder: MakeFolder) -> None:
    root = make_folder(n=2)
    plain = open_source(root).load(0)[1]
    np.testing.assert_array_equal(open_source(root, invert_mask=True).load(0)[1], 1 - plain)
    np.testing.assert_array_equal(open_source(root, positive=0).load(0)[1], 1 - plain)
    np.testing.assert_array_equal(open_source(root, positive=255).load(0)[1], plain)
    report = check_source(root, positive=7)
    assert not report.ok and "no mask contains the value 7" in report.problems[0]


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8) * 255


def test_jpeg_masks_are_binary_at_half_the_foreground(tmp_path: Path) -> None:
    """JPEG masks (Kvasir-SEG ships its polyp masks so) carry every level between 0 and 255 at edges: they are read
    as binary masks, >= 128 foreground, with one warning; an RGB JPEG of a gray mask is read as its channels' mean."""
    root = tmp_path / "polyp"
    truth = [disc(64, 80, 30, 40, 18), disc(64, 80, 20, 25, 12)]
    for i, mask in enumerate(truth):
        save(root / "images" / f"p{i}.jpg", np.stack([gray_image(64, 80, i)] * 3, axis=-1))
        stored = mask if i == 0 else np.stack([mask] * 3, axis=-1)
        save(root / "masks" / f"p{i}.jpg", stored, quality=75)
    stored = np.asarray(Image.open(root / "masks" / "p0.jpg"))
    assert len(np.unique(stored)) > 2  # the compression did leave stray levels
    src = open_source(root)
    assert src.class_names == ["background", "foreground"]
    for i, mask in enumerate(truth):
        loaded = src.load(i)[1]
        assert set(np.unique(loaded)) == {0, 1} and (loaded != mask // 255).mean() < 0.01
    report = check_source(root)
    assert report.ok and report.summary["checked"].startswith("all headers, image pixels not decoded")  # no PNGs
    assert [line for line in report.problems if "JPEG" in line] == [
        f"warning: {root}: 2 masks stored as JPEG, whose compression leaves levels between 0 and 255 at edges: read "
        "as binary masks, values >= 128 foreground; store masks as PNG or TIFF to keep their exact values"
    ]
    inverted = open_source(root, invert_mask=True).load(0)[1]
    np.testing.assert_array_equal(inverted, 1 - src.load(0)[1])

    three = tmp_path / "three"  # a third class stored as JPEG (a plateau at 128) is not read as binary
    save(three / "images" / "x.jpg", gray_image(64, 80, 0))
    save(three / "masks" / "x.jpg", np.maximum(disc(64, 80, 30, 40, 25) // 255 * 128, truth[0]), quality=95)
    assert not check_source(three).ok

    png = tmp_path / "png"  # exactly stored masks with a stray level stay an error
    save(png / "images" / "x.png", gray_image(64, 80, 0))
    save(
        png / "masks" / "x.png",
        np.where(truth[0] > 0, 255, np.where(disc(64, 80, 30, 40, 19) > 0, 200, 0)).astype(np.uint8),
    )
    assert any("stray values {200}" in line for line in check_source(png).problems)


def test_numbered_mask_parts_are_merged_into_one_mask(tmp_path: Path) -> None:
    """BUSI stores a second lesion as ``<stem>_mask_1.png``: one sample whose mask is the union of the parts."""
    flat = tmp_path / "busi"
    for i in range(2):
        save(flat / f"benign ({i}).png", gray_image(16, 16, i))
        save(flat / f"benign ({i})_mask.png", blob_mask(16, 16, i))
    save(flat / "benign (1)_mask_1.png", blob_mask(16, 16, 7))
    save(flat / "benign (1)_mask_2.png", blob_mask(16, 16, 8))
    src = open_source(flat)
    assert src.ids == ["benign (0)", "benign (1)"] and src.mask_path(1).endswith("benign (1)_mask.png")
    union = (blob_mask(16, 16, 1) | blob_mask(16, 16, 7) | blob_mask(16, 16, 8)) // 255
    np.testing.assert_array_equal(src.load(1)[1], union)
    assert any(p.name == "benign (1)_mask_2.png" for p in src.files())  # the parts count in the fingerprint
    assert check_source(flat).ok

    save(flat / "benign (1)_mask_2.png", blob_mask(8, 16, 8))
    with pytest.raises(UnetzooError, match=r"benign \(1\)_mask_2\.png: mask part is \(8, 16\)"):
        open_source(flat).load(1)

    two = tmp_path / "two"  # two unnumbered masks of one image stay an error
    save(two / "images" / "a.png", gray_image(8, 8, 0))
    save(two / "masks" / "a.png", blob_mask(8, 8, 0))
    save(two / "masks" / "a_mask.png", blob_mask(8, 8, 1))
    assert any("several masks match" in line for line in check_source(two).problems)


def test_image_and_mask_folders_go_by_common_names(tmp_path: Path) -> None:
    """CVC-ClinicDB stores its polyps as Original/ + Ground Truth/: read as images/ + masks/, and scored so."""
    root = tmp_path / "CVC-ClinicDB"
    for i in range(2):
        save(root / "Original" / f"{i + 1}.tif", np.stack([gray_image(16, 16, i)] * 3, axis=-1))
        save(root / "Ground Truth" / f"{i + 1}.tif", blob_mask(16, 16, i))
    src = open_source(root)
    assert detect_format(root) == "folder" and src.ids == ["1", "2"] and src.classes == 2
    np.testing.assert_array_equal(src.load(1)[1], blob_mask(16, 16, 1) // 255)
    assert check_source(root).ok
    save(tmp_path / "pred" / "2.png", blob_mask(16, 16, 1))
    assert score_folders(tmp_path / "pred", root).aggregate["dice"] == pytest.approx(1.0)

    lone = tmp_path / "lone"  # an image folder without a mask folder names its own name
    save(lone / "img" / "a.png", gray_image(8, 8, 0))
    with pytest.raises(UnetzooError, match="has img/ but no masks/ folder"):
        open_source(lone)


def _discs(h: int, w: int, centres: list[tuple[int, int]], radius: int, ids: list[int] | None = None) -> np.ndarray:
    """A label image with one disc per centre, ids 1..N (or ``ids``): uint8, or uint16 for ids over 255."""
    yy, xx = np.mgrid[:h, :w]
    labels = np.zeros((h, w), np.uint16 if max(ids or [0]) > 255 else np.uint8)
    for k, (y, x) in zip(ids or range(1, len(centres) + 1), centres, strict=True):
        labels[(yy - y) ** 2 + (xx - x) ** 2 <= radius**2] = k
    return labels


def test_instance_label_masks_are_read_as_binary_with_one_warning(tmp_path: Path) -> None:
    """GlaS stores one id per gland (``train_1_anno.bmp``, ids 1..N): not N classes, but a binary mask with a warning
    naming the fix if they are classes, and the objects themselves for --task instances (as StarDist and Cellpose
    read images/ + masks/); an instances/ folder, where there is one, gives the objects instead."""
    centres = [(6, 6), (6, 20), (20, 6), (20, 20), (13, 13)]
    glas = tmp_path / "glas"
    for i, n in enumerate((2, 5, 3, 4)):
        save(glas / f"train_{i + 1}.bmp", np.stack([gray_image(28, 28, i)] * 3, axis=-1))
        save(glas / f"train_{i + 1}_anno.bmp", _discs(28, 28, centres[:n], 3))
    report = check_source(glas)
    assert report.ok and report.summary["class_names"] == ["background", "foreground"]
    warning = next(line for line in report.problems if "instance labels" in line)
    assert "4 masks hold instance labels (one id per object, each id one piece, up to 5 in one mask)" in warning
    assert "labels.json" in warning and "as the objects for --task instances" in warning
    assert report.summary["instances"]["objects"] == 14
    src = open_source(glas)
    np.testing.assert_array_equal(src.load(1)[1], _discs(28, 28, centres, 3) > 0)
    assert src.has_instances and src.instance_path(1) == str(glas / "train_2_anno.bmp")
    np.testing.assert_array_equal(src.read_instances(1), _discs(28, 28, centres, 3))

    objects = tmp_path / "objects"  # the fix for objects: images/ + instances/, binary masks derived from them
    for i, n in enumerate((2, 5, 3, 4)):
        save(objects / "images" / f"train_{i + 1}.bmp", gray_image(28, 28, i))
        save(objects / "instances" / f"train_{i + 1}_anno.bmp", _discs(28, 28, centres[:n], 3))
    src = open_source(objects)
    assert src.has_instances and src.read_instances(1).max() == 5 and src.classes == 2


def test_instance_label_masks_with_arbitrary_ids(tmp_path: Path) -> None:
    """Label images whose ids are not 1..N (kept from a tracking or an annotation tool): more ids over all masks than
    classes can be, each one piece, are instance labels too (relabelled 1..N), not a binary mask with stray values."""
    rng = np.random.default_rng(0)
    centres = [(6, 6), (6, 20), (20, 6), (20, 20), (13, 13)]
    root = tmp_path / "tracked"
    for i in range(10):
        ids = [int(v) for v in rng.choice(np.arange(1, 60_000), 3 + i % 3, replace=False)]
        save(root / "images" / f"{i}.png", gray_image(28, 28, i))
        save(root / "masks" / f"{i}.png", _discs(28, 28, centres[: len(ids)], 3, ids))
    report = check_source(root)
    assert report.ok and any("10 masks hold instance labels" in line for line in report.problems)
    src = open_source(root)
    assert src.has_instances and src.read_instances(2).max() == 5 and src.classes == 2
    np.testing.assert_array_equal(src.load(2)[1], _discs(28, 28, centres, 3) > 0)

    smooth = tmp_path / "antialiased"  # ~100 gray levels, each scattered along the outlines: not objects
    for i in range(6):
        disc = Image.fromarray(_discs(256, 256, [(100 + 5 * i, 128)], 60 + 5 * i) * np.uint8(255))
        save(smooth / "images" / f"{i}.png", gray_image(71, 71, i))
        save(smooth / "masks" / f"{i}.png", np.asarray(disc.resize((71, 71), Image.LANCZOS)))
    problems = check_source(smooth).problems
    assert any("stray values" in line for line in problems) and not any("instance labels" in line for line in problems)


@pytest.mark.parametrize(
    ("ids_per_mask", "classes"),
    [
        ([[1, 2, 3], [2, 3], [1, 2, 3], [3]], 4),  # heart classes: a slice without the first has a gap
        ([[1, 2, 3], [2, 3], *[[]] * 8], 4),  # empty masks are not numbered masks
        ([[1], [1, 2], [1, 2], [1]], 3),  # an organ and a lesion in some images: two ids are not enough
        ([[1, 2, 3], [1, 2, 3], [1, 2, 3]], 4),  # every class in every mask
    ],
)
def test_class_masks_that_resemble_instances_stay_classes(tmp_path: Path, ids_per_mask: list, classes: int) -> None:
    centres = [(6, 6), (6, 20), (20, 13)]
    root = tmp_path / "classes"
    for i, ids in enumerate(ids_per_mask):
        save(root / "images" / f"s{i}.png", gray_image(28, 28, i))
        save(root / "masks" / f"s{i}.png", _discs(28, 28, [centres[k - 1] for k in ids], 3, ids))
    report = check_source(root)
    assert report.summary["classes"] == classes
    assert not any("instance labels" in line for line in report.problems)


def test_class_masks_in_pieces_are_not_instances(tmp_path: Path) -> None:
    """Ids 1..N of varying N, but each id in several pieces (two kidneys, scattered lesions): classes."""
    root = tmp_path / "pieces"
    spots = [(4, 4), (4, 24), (24, 4), (24, 24), (14, 14), (14, 4)]
    for i, n in enumerate((3, 2, 3)):
        pairs = [spots[2 * (k % 3)] for k in range(n)] + [spots[2 * (k % 3) + 1] for k in range(n)]
        save(root / "images" / f"s{i}.png", gray_image(28, 28, i))
        save(root / "masks" / f"s{i}.png", _discs(28, 28, pairs, 2, [*range(1, n + 1)] * 2))
    assert check_source(root).summary["classes"] == 4


def test_nnunet_rgb_and_multichannel(tmp_path: Path) -> None:
    rgb = tmp_path / "Dataset501_Rgb"
    for case in ("c1", "c2"):
        save(rgb / "imagesTr" / f"{case}_0000.png", np.stack([gray_image(8, 8, 0)] * 3, axis=-1))
        save(rgb / "labelsTr" / f"{case}.png", (blob_mask(8, 8, 0) // 255))
    meta = {"channel_names": {"0": "R", "1": "G", "2": "B"}, "labels": {"background": 0, "road": 1}}
    (rgb / "dataset.json").write_text(json.dumps({**meta, "numTraining": 2, "file_ending": ".png"}))
    src = open_source(rgb)
    assert detect_format(rgb) == "nnunet" and src.ids == ["c1", "c2"]
    assert src.in_channels == 3 and src.class_names == ["background", "road"]
    assert src.load(1)[0].shape == (8, 8, 3)

    two = tmp_path / "Dataset502_Two"
    for c in range(2):
        save(two / "imagesTr" / f"case_{c:04d}.png", gray_image(8, 8, c))
    save(two / "labelsTr" / "case.png", np.array([[0, 2]] * 8 * 4, np.uint8).reshape(8, 8))
    meta = {"channel_names": {"0": "a", "1": "b"}, "labels": {"background": 0, "x": 1, "y": 2}, "file_ending": ".png"}
    (two / "dataset.json").write_text(json.dumps(meta))
    image, mask = open_source(two).load(0)
    np.testing.assert_array_equal(image[..., 1], gray_image(8, 8, 1))
    assert mask.max() == 2
    (two / "imagesTr" / "case_0001.png").unlink()
    with pytest.raises(UnetzooError, match=r"lacks imagesTr/case_0001\.png"):
        open_source(two)


def test_nnunet_four_gray_png_modalities_are_four_channels(tmp_path: Path) -> None:
    """Four 2D PNG modalities (an MRI case's T1/T1ce/T2/FLAIR slices) are one 4-channel image everywhere: the
    merged header declares no alpha, so neither the fingerprint nor the data check reads the 4th as alpha."""
    root = tmp_path / "Dataset503_Four"
    for case in ("c1", "c2"):
        for c in range(4):
            save(root / "imagesTr" / f"{case}_{c:04d}.png", gray_image(8, 8, c))
        save(root / "labelsTr" / f"{case}.png", blob_mask(8, 8, 0) // 255)
    meta = {"channel_names": dict(zip("0123", ("T1", "T1ce", "T2", "FLAIR"), strict=True)), "file_ending": ".png"}
    (root / "dataset.json").write_text(json.dumps({**meta, "labels": {"background": 0, "tumour": 1}}))
    src = open_source(root)
    assert src.in_channels == 4 and src.load(1)[0].shape == (8, 8, 4)
    np.testing.assert_array_equal(src.load(0)[0][..., 3], gray_image(8, 8, 3))
    assert compute_fingerprint(src).channel_counts == {"4": 2}
    report = check_source(src)
    assert report.ok and not any("RGBA" in line or "alpha" in line for line in report.problems)
    assert report.summary["in_channels"] == 4 and report.summary["image_channels"] == {"4-channel": 2}


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"modality": {"0": "CT"}, "labels": {"0": "background"}}, "v1 / MSD"),
        ({"channel_names": {"0": "CT"}, "labels": {"background": 0, "a": 1}, "file_ending": ".jpg"}, "not a 2D"),
        ({"channel_names": {"0": "g"}, "labels": {"background": 0, "a": 2}, "file_ending": ".png"}, "consecutive"),
        ({"channel_names": {"0": "g"}, "labels": {"background": 0, "a": [1, 2]}, "file_ending": ".png"}, "region"),
    ],
)
def test_nnunet_bad_dataset_json(tmp_path: Path, meta: dict, message: str) -> None:
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "dataset.json").write_text(json.dumps(meta))
    report = check_source(tmp_path)
    assert not report.ok and message in report.problems[0]
    assert str(tmp_path / "dataset.json") in report.problems[0]


def test_tiff_stack_pairs(tmp_path: Path) -> None:
    volume = np.stack([gray_image(16, 16, k) for k in range(5)])
    labels = np.stack([blob_mask(16, 16, k) for k in range(5)])
    tifffile.imwrite(tmp_path / "train-volume.tif", volume, photometric="minisblack")
    tifffile.imwrite(tmp_path / "train-labels.tif", labels, photometric="minisblack")
    for data in (tmp_path, tmp_path / "train-volume.tif"):
        src = open_source(data)
        assert src.format == "stack" and len(src) == 5 and src.ids[3] == "train-volume_003"
        image, mask = src.load(3)
        np.testing.assert_array_equal(image[..., 0], volume[3])
        np.testing.assert_array_equal(mask, labels[3] // 255)
    assert check_source(tmp_path).ok
    tifffile.imwrite(tmp_path / "train-labels.tif", labels[:4], photometric="minisblack")
    with pytest.raises(UnetzooError, match="has 4 slices, the image stack 5"):
        open_source(tmp_path / "train-volume.tif")


def test_detection_errors_and_override(tmp_path: Path, make_folder: MakeFolder) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnetzooError, match=r"cannot tell the dataset format; expected images/ \+ masks/"):
        open_source(tmp_path / "empty")
    for folder in ("CXR_png", "ManualMask/leftMask"):  # Montgomery's layout names its folders
        (tmp_path / "montgomery" / folder).mkdir(parents=True)
    with pytest.raises(UnetzooError, match=r"format \(it has CXR_png/, ManualMask/\); expected images/ \+ masks/"):
        open_source(tmp_path / "montgomery")
    with pytest.raises(UnetzooError, match="no such file or folder"):
        open_source(tmp_path / "missing")
    root = make_folder(n=2)
    with pytest.raises(UnetzooError, match="unknown data format"):
        open_source(root, fmt="nifti")
    assert open_source(root, fmt="folder").format == "folder"
    with pytest.raises(UnetzooError, match="unknown builtin dataset"):
        open_source("builtin:retina")


def test_fingerprint_tracks_content(make_folder: MakeFolder) -> None:
    root = make_folder(n=2)
    first = open_source(root).fingerprint()
    assert open_source(root).fingerprint() == first
    assert open_source(root, invert_mask=True).fingerprint() != first
    save(root / "masks" / "img1.png", blob_mask(32, 32, seed=9))
    assert open_source(root).fingerprint() != first


def test_builtin_nuclei() -> None:
    assert "nuclei" in BUILTIN
    src = open_source("builtin:nuclei")
    assert src.name == "builtin:nuclei" and len(src) == 100
    assert src.in_channels == 3 and src.class_names == ["background", "nucleus"]
    image, mask = src.load(0)
    assert image.shape == (256, 256, 3) and mask.shape == (256, 256) and 0 < mask.mean() < 1
    readme = (Path(src.image_path(0)).parents[1] / "README.md").read_text()
    assert "CC0" in readme and "Caicedo" in readme and src.ids[0] in readme
