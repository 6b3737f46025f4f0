"""``unetzoo score`` / ``score_folders`` on tmp folders: pairing by stem across tools' naming, equality with the
library metrics, the CSV, and bad input (one line naming the file, exit 1, nothing written)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from unetzoo.cli import main
from unetzoo.errors import UnetzooError
from unetzoo.metrics import SegmentationMetrics, aggregate_instances, instance_counts, score_folders


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".tif":
        tifffile.imwrite(path, array)
    else:
        Image.fromarray(array).save(path)
    return path


def truth(i: int, size: int = 32) -> np.ndarray:
    """Four objects; two 8x8 squares touch."""
    labels = np.zeros((size, size), np.uint16)
    labels[2:10, 2:10], labels[2:10, 10:18] = 1, 2
    labels[18:26, 4 + i : 12 + i], labels[20:28, 20:30] = 3, 4
    return labels


def prediction(i: int) -> np.ndarray:
    """The truth shifted, object 2 missed, ids renamed, and a false object -7 (lost where clipped to uint16)."""
    shifted = np.roll(truth(i), i % 2, axis=1).astype(np.int32)
    labels = np.where((shifted == 0) | (shifted == 2), 0, shifted * 1000 - 5)
    labels[28:31, 0:3] = -7
    return labels


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """GT dataset root (images/, masks/, instances/) and predictions named as several tools name them."""
    gt = tmp_path / "gt"
    for i in range(4):
        save(gt / "images" / f"img{i}.png", np.zeros((32, 32), np.uint8))
        save(gt / "instances" / f"img{i}.png", truth(i))
        save(gt / "masks" / f"img{i}.png", ((truth(i) != 0) * 255).astype(np.uint8))
    pred = tmp_path / "pred"
    save(pred / "img0_cp_masks.png", prediction(0).clip(0).astype(np.uint16))  # Cellpose, beside its image
    save(pred / "img0.png", np.zeros((32, 32, 3), np.uint8))
    save(pred / "img1.tif", prediction(1))  # StarDist-style int32 TIFF, negative ids
    save(pred / "img2_mask.png", prediction(2).clip(0).astype(np.uint16))
    save(pred / "img2_prob.tif", np.full((32, 32), 0.5, np.float32))  # unetzoo predict's side outputs
    save(pred / "img2_overlay.png", np.zeros((32, 32, 3), np.uint8))
    (pred / "img2_seg.npy").write_bytes(b"not an image")
    return pred, gt


def library_instances(pred: Path) -> dict[str, float]:
    arrays = [(prediction(0).clip(0), 0), (prediction(1), 1), (prediction(2).clip(0), 2)]
    return aggregate_instances([instance_counts(p, truth(i)) for p, i in arrays])


def test_cli_json_equals_the_library(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    assert main(["score", str(pred), str(gt), "--instances", "--json"]) == 0
    captured = capsys.readouterr()
    got = json.loads(captured.out)
    want = library_instances(pred)
    assert got == pytest.approx({**want, "n_unpaired_pred": 0, "n_unpaired_gt": 1})
    assert got["n_images"] == 3 and got["n_true"] == 12 and got["n_pred"] == 3 + 4 + 3 and 0 < got["map"] < 1
    assert "1 ground-truth files have no partner" in captured.err and "img3.png" in captured.err


def test_csv_has_one_row_per_pair(folders: tuple[Path, Path], tmp_path: Path) -> None:
    pred, gt = folders
    out = tmp_path / "out" / "scores.csv"
    assert main(["score", str(pred), str(gt), "--instances", "--csv", str(out)]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["img0", "img1", "img2"]
    assert [Path(r["pred"]).name for r in rows] == ["img0_cp_masks.png", "img1.tif", "img2_mask.png"]
    assert all(Path(r["gt"]).parent.name == "instances" for r in rows)
    row = instance_counts(prediction(1), truth(1)).scores()
    assert float(rows[1]["map"]) == pytest.approx(row["map"]) and int(rows[1]["fn_50"]) == row["fn_50"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.csv"]


def test_masks_are_scored_with_the_semantic_metrics(folders: tuple[Path, Path]) -> None:
    pred, gt = folders
    result = score_folders(pred, gt)
    assert [Path(r["gt"]).parent.name for r in result.per_image] == ["masks"] * 3
    metrics = SegmentationMetrics()
    for p, i in ((prediction(0).clip(0), 0), (prediction(1), 1), (prediction(2).clip(0), 2)):
        metrics.update((p != 0)[None].astype(np.int64), (truth(i) != 0)[None].astype(np.int64))
    assert result.aggregate == pytest.approx(metrics.compute())
    assert "map" not in result.aggregate


def test_class_id_masks_with_classes(tmp_path: Path) -> None:
    gt, pred = np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)
    gt[:4], gt[4:, :4] = 1, 2
    pred[:4], pred[4:, :2] = 1, 2
    save(tmp_path / "gt" / "a.png", gt)
    save(tmp_path / "pred" / "a_pred.png", pred)
    result = score_folders(tmp_path / "pred", tmp_path / "gt", classes=3)
    want = SegmentationMetrics("multiclass", 3)
    want.update(pred[None].astype(np.int64), gt[None].astype(np.int64))
    assert result.aggregate == pytest.approx(want.compute()) and result.aggregate["dice_2"] == pytest.approx(2 / 3)
    save(tmp_path / "pred" / "a_pred.png", pred * 3)
    with pytest.raises(UnetzooError, match=r"a_pred.png: values \[3, 6\] are no class id of 0..2"):
        score_folders(tmp_path / "pred", tmp_path / "gt", classes=3)


def test_jpeg_ground_truth_masks_are_binary_at_128(tmp_path: Path) -> None:
    """Kvasir-SEG's masks are JPEGs: their compression levels near 0 are background, as training reads them."""
    yy, xx = np.mgrid[:64, :64]
    disc = ((yy - 30) ** 2 + (xx - 34) ** 2 <= 400).astype(np.uint8)
    (tmp_path / "gt").mkdir()
    Image.fromarray(np.stack([disc * 255] * 3, axis=-1)).save(tmp_path / "gt" / "a.jpg", quality=75)
    stored = np.asarray(Image.open(tmp_path / "gt" / "a.jpg"))
    assert ((stored > 0) & (stored < 128)).sum() > 50  # the compression's halo
    save(tmp_path / "pred" / "a.png", disc * 255)
    result = score_folders(tmp_path / "pred", tmp_path / "gt")
    assert result.aggregate["dice"] > 0.99  # the halo as foreground would cost more
    with pytest.raises(UnetzooError, match=r"a\.jpg: is a JPEG, whose compression changes label values"):
        score_folders(tmp_path / "pred", tmp_path / "gt", instances=True)


def test_connected_components_split_binary_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = save(tmp_path / "gt.png", truth(3))
    binary = save(tmp_path / "pred.png", ((truth(3) != 0) * 255).astype(np.uint8))
    assert main(["score", str(binary), str(gt), "--instances", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_pred"] == 1 and "--connected-components" in captured.err
    assert main(["score", str(binary), str(gt), "--instances", "--connected-components", "--json"]) == 0
    captured = capsys.readouterr()
    got = json.loads(captured.out)
    assert (got["n_pred"], got["tp_50"]) == (3, 2)  # the touching squares merge: IoU 0.5 with each, no match
    assert got["map"] == pytest.approx(2 / 5) and captured.err == ""


def test_a_single_pred_file_is_found_in_a_gt_folder(folders: tuple[Path, Path]) -> None:
    pred, gt = folders
    result = score_folders(pred / "img1.tif", gt, instances=True)
    assert [r["id"] for r in result.per_image] == ["img1"] and len(result.unpaired_gt) == 3
    assert result.aggregate["map"] == pytest.approx(instance_counts(prediction(1), truth(1)).scores()["map"])


def test_masks_holding_one_id_per_object_are_instance_ground_truth(folders: tuple[Path, Path], tmp_path: Path) -> None:
    """StarDist's and Cellpose's layout, images/ + masks/ of instance ids and no instances/: --instances scores
    against the masks' objects, as against the same objects in instances/."""
    pred, gt = folders
    stardist = tmp_path / "stardist"
    for i in range(4):
        labels = truth(i)
        if i == 3:
            labels[labels == 4] = 0  # the number of objects varies between masks, as in real ones
        save(stardist / "images" / f"img{i}.png", np.zeros((32, 32), np.uint8))
        save(stardist / "masks" / f"img{i}.tif", labels)
    got = score_folders(pred, stardist, instances=True)
    assert got.aggregate == pytest.approx(score_folders(pred, gt, instances=True).aggregate)
    assert got.aggregate["n_true"] == 3 * 4


# --- bad input --------------------------------------------------------------------------------------------------
def bad_float(pred: Path, gt: Path) -> tuple[Path, str]:
    p = save(pred / "img1.tif", np.full((32, 32), 0.25, np.float32))
    return p, "label image holds non-integer values (e.g. 0.25): probabilities, not ids?"


def bad_size(pred: Path, gt: Path) -> tuple[Path, str]:
    p = save(pred / "img1.tif", np.zeros((30, 32), np.int32))
    return p, f"prediction is 30x32 (HxW) but its ground truth {gt / 'instances' / 'img1.png'} is 32x32"


def bad_rgb(pred: Path, gt: Path) -> tuple[Path, str]:
    p = save(pred / "img1.tif", np.zeros((32, 32, 3), np.uint8))
    return p, "label image has 3 channels, not one"


def bad_gt(pred: Path, gt: Path) -> tuple[Path, str]:
    p = save(gt / "instances" / "img2.png", np.zeros((32, 32, 3), np.uint8))
    return p, "label image has 3 channels, not one"


def twins(pred: Path, gt: Path) -> tuple[Path, str]:
    save(pred / "img1_pred.png", prediction(1).clip(0).astype(np.uint16))  # one suffixed file would win
    save(pred / "img1_mask.png", prediction(1).clip(0).astype(np.uint16))
    return pred / "img1.tif", "several label images share the stem 'img1' (img1.tif, img1_mask.png, img1_pred.png)"


def no_instances(pred: Path, gt: Path) -> tuple[Path, str]:
    for f in (gt / "instances").iterdir():
        f.unlink()
    (gt / "instances").rmdir()
    return gt, "has no instances/ folder for --instances"


def missing(pred: Path, gt: Path) -> tuple[Path, str]:
    return gt / "nowhere", "no such file or folder (GT)"


def nothing_pairs(pred: Path, gt: Path) -> tuple[Path, str]:
    for f in pred.iterdir():
        f.rename(f.with_name("x" + f.name))
    return pred, "no prediction has a ground truth"


@pytest.mark.parametrize(
    "corrupt",
    [bad_float, bad_size, bad_rgb, bad_gt, twins, no_instances, missing, nothing_pairs],
    ids=lambda f: f.__name__,
)
def test_bad_input_is_one_line_naming_the_file(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], corrupt
) -> None:
    pred, gt = folders
    bad, what = corrupt(pred, gt)
    gt_arg = bad if corrupt is missing else gt
    out = tmp_path / "scores.csv"
    out.write_text("earlier results\n")
    code = main(["score", str(pred), str(gt_arg), "--instances", "--json", "--csv", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"unetzoo: error: {bad}") and what in lines[0], lines
    assert out.read_text() == "earlier results\n"  # nothing half-written


def test_strict_refuses_unpaired_files(folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = folders
    assert main(["score", str(pred), str(gt), "--instances", "--strict"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"unetzoo: error: {gt / 'instances' / 'img3.png'}: ground truth without prediction; "
        "pair every file, or drop --strict"
    )


def test_gt_file_with_pred_folder_and_bad_classes(folders: tuple[Path, Path]) -> None:
    pred, gt = folders
    with pytest.raises(UnetzooError, match="GT is one file but PRED a folder"):
        score_folders(pred, gt / "instances" / "img0.png")
    with pytest.raises(UnetzooError, match="--classes 1"):
        score_folders(pred, gt, classes=1)
