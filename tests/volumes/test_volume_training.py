"""Training on volume slices end to end: split by case, region-based outputs, volume-level eval, NIfTI predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from unetzoo.cli import main
from unetzoo.data.regions import Regions
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.train import train
from unetzoo.losses import build_loss
from unetzoo.losses.regions import RegionLoss
from unetzoo.metrics.volume import volume_scores
from unetzoo.volumes import brain_case, parse_brain_spec, read_volume, write_dataset
from unetzoo.volumes.synthetic import LABELS, REGIONS

SPEC = "synthetic:brain?n=5&size=16x24x24&modalities=4&seed=7"
BRATS = Regions.from_labels(REGIONS, (1, 2, 3))


def test_regions_paint_back_in_class_order() -> None:
    labels = np.array([[0, 1, 2, 3]])
    masks = BRATS.masks(labels).astype(np.float32)
    assert masks[:, 0, :].tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]
    np.testing.assert_array_equal(BRATS.to_labels(masks), labels)
    assert Regions.from_dict(BRATS.to_dict()) == BRATS


def test_region_loss_is_the_mean_binary_loss_per_region() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(2, 3, 8, 8), torch.randint(0, 4, (2, 8, 8))
    bce = build_loss("bce", "binary")
    expected = sum(bce(logits[:, r : r + 1], region_target(target, r)) for r in range(3)) / 3
    assert torch.allclose(RegionLoss(bce, BRATS.ids)(logits, target), expected)


def region_target(target: torch.Tensor, r: int) -> torch.Tensor:
    return torch.isin(target, torch.tensor(BRATS.ids[r])).long()


def test_volume_scores_hd95_is_in_mm() -> None:
    gt = np.zeros((10, 10, 10), np.int64)
    gt[2:8, 2:8, 2:8] = 1
    pred = np.zeros_like(gt)
    pred[3:8, 2:8, 2:8] = 1  # one slice short along z
    names = ("background", "tumour")
    assert volume_scores(pred, gt, spacing=(1, 1, 1), class_names=names)["hd95_tumour"] == 1.0
    scores = volume_scores(pred, gt, spacing=(3.0, 0.5, 0.5), class_names=names)
    assert scores["hd95_tumour"] == 3.0 and scores["hd95"] == 3.0
    assert abs(scores["dice"] - 2 * 180 / (216 + 180)) < 1e-12


def test_train_eval_predict_on_volumes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    result = train(data=SPEC, model="ulite", regions=True, crop=(20, 20), epochs=1, iters_per_epoch=2,
                   batch_size=4, val_fraction=0.4, out=str(out), progress=False)  # fmt: skip
    payload = load_checkpoint(result.best_checkpoint)
    split = payload["split"]
    assert split["val"] and set(split["train"]).isdisjoint(split["val"])  # cases, never slices
    assert set(split["train"] + split["val"]) == {f"brain_{i:04d}" for i in range(5)}
    assert payload["volume"] == {"axis": "z", "window": None, "normalize": True, "crop": [20, 20]}
    assert payload["regions"] == BRATS.to_dict() and payload["model"]["classes"] == 3
    assert payload["preprocess"]["normalize"] == "none"  # normalised per volume instead
    assert set(payload["val_dice_per_image"]) == set(split["val"])
    assert json.loads((out / "split.json").read_text())["val"] == split["val"]

    # The run report shows its validation volumes, each by its slice with the most labelled foreground.
    from unetzoo.report.run_report import _cases

    assert (out / "samples.png").is_file() and "no validation images" not in (out / "report.html").read_text()
    shown = _cases(out, 3)
    assert [row["id"].split()[0] for row in shown] == sorted(
        split["val"], key=lambda c: -payload["val_dice_per_image"][c]
    )
    for row in shown:
        case, where = row["id"].split()
        label = brain_case(parse_brain_spec(SPEC), int(case[-4:])).label
        k = int(where.removeprefix("z="))
        assert where.startswith("z=") and (label > 0).sum(axis=(1, 2)).argmax() == k
        np.testing.assert_array_equal(row["truth"], label[k])
        assert row["image"].shape == row["pred"].shape == (24, 24)
        assert abs(row["dice"] - payload["val_dice_per_image"][case]) < 1e-9

    scores = evaluate(result.best_checkpoint)
    assert [row["id"] for row in scores.per_image] == split["val"]
    for key in ("dice", "dice_whole_tumor", "dice_tumor_core", "dice_enhancing_tumor", "hd95_whole_tumor",
                "iou_edema"):  # fmt: skip
        assert key in scores.aggregate
    assert abs(scores.aggregate["dice"] - payload["metrics"]["val_dice"]) < 1e-9

    spec = parse_brain_spec(SPEC)
    case = brain_case(spec, 4)
    root = write_dataset(tmp_path / "Dataset503_Brain", [case], channel_names=spec.channel_names, labels=LABELS)
    assert main(["predict", str(root / "imagesTr" / "brain_0004_0002.nii.gz"), "--checkpoint",
                 str(result.best_checkpoint), "--out", str(tmp_path / "pred")]) == 0  # fmt: skip
    assert "1 volume(s) segmented" in capsys.readouterr().out
    pred, image = (
        read_volume(tmp_path / "pred" / "brain_0004.nii.gz"),
        read_volume(root / "imagesTr" / "brain_0004_0000.nii.gz"),
    )
    assert pred.array.shape == case.label.shape and pred.geometry == image.geometry
    assert set(np.unique(pred.array)) <= {0, 1, 2, 3}
    assert (pred.array[:, :2] == 0).all()  # outside the 20x20 crop: background


def test_case_block_sampler_reads_each_case_once_per_pass() -> None:
    from unetzoo.engine.sampling import CaseBlockSampler

    cases = [k // 5 for k in range(20)]  # 4 cases of 5 slices
    sampler = CaseBlockSampler(cases, block=2, samples=30, seed=3)
    order = list(sampler)
    assert len(order) == 30 and sorted(order[:20]) == list(range(20))
    first, second = {cases[i] for i in order[:10]}, {cases[i] for i in order[10:20]}
    assert len(first) == len(second) == 2 and first.isdisjoint(second)
    assert order == list(CaseBlockSampler(cases, block=2, samples=30, seed=3))
    sampler.set_epoch(1)
    assert list(sampler) != order
    ranks = [list(CaseBlockSampler(cases, 2, 30, 3, rank=r, world_size=2)) for r in (0, 1)]
    assert ranks[0] == order[0::2] and ranks[1] == order[1::2]


def test_data_check_cli_on_volumes(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["data", "check", SPEC, "--slice-axis", "x", "--crop", "12", "20"]) == 0
    out = capsys.readouterr().out
    assert "format: volumes, 120 samples" in out and "12x20: 120" in out and "4 modalities" in out
    assert "result: ok (0 errors, 0 warnings)" in out
