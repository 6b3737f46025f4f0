"""Overlap, confusion and distance metrics against MONAI (DiceMetric, MeanIoU, ConfusionMatrixMetric, HD95)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai import metrics as monai_metrics

from unetzoo.metrics import SegmentationMetrics, hausdorff_distance


def blobs(seed: int, n: int = 4, size: int = 40, classes: int = 2) -> np.ndarray:
    """(n, size, size) label maps of a few random rectangles (never empty)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size), dtype=np.int64)
    for img in out:
        for _ in range(3):
            y, x = rng.integers(0, size - 8, 2)
            h, w = rng.integers(3, 15, 2)
            img[y : y + h, x : x + w] = rng.integers(1, classes)
    return out


def one_hot(labels: np.ndarray, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(labels), classes).permute(0, 3, 1, 2).float()


@pytest.fixture(scope="module")
def binary_pair() -> tuple[np.ndarray, np.ndarray]:
    return blobs(0), blobs(1)


def test_dice_iou_match_monai(binary_pair) -> None:
    pred, gt = binary_pair
    metrics = SegmentationMetrics()
    rows = metrics.update(pred, gt)
    p, y = one_hot(pred, 2), one_hot(gt, 2)
    dice = monai_metrics.DiceMetric(include_background=False, reduction="none")(p, y)[:, 0]
    iou = monai_metrics.MeanIoU(include_background=True, reduction="none")(p, y)  # (N, 2): background, cells
    np.testing.assert_allclose([r["dice"] for r in rows], dice.numpy(), rtol=1e-6)
    np.testing.assert_allclose([r["iou"] for r in rows], iou[:, 1].numpy(), rtol=1e-6)
    np.testing.assert_allclose([r["miou"] for r in rows], iou.mean(dim=1).numpy(), rtol=1e-6)  # incl. background
    assert metrics.compute()["dice"] == pytest.approx(dice.mean().item(), rel=1e-6)


def test_confusion_scores_match_monai(binary_pair) -> None:
    pred, gt = binary_pair
    rows = SegmentationMetrics().update(torch.from_numpy(pred), torch.from_numpy(gt))
    names = ["precision", "sensitivity", "specificity", "accuracy"]
    ref = monai_metrics.ConfusionMatrixMetric(include_background=False, metric_name=names, reduction="none")
    ref(one_hot(pred, 2), one_hot(gt, 2))
    for name, values in zip(["precision", "recall", "specificity", "accuracy"], ref.aggregate(), strict=True):
        np.testing.assert_allclose([r[name] for r in rows], values[:, 0].numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("percentile", [95.0, None])
def test_hausdorff_matches_monai(binary_pair, percentile: float | None) -> None:
    pred, gt = binary_pair
    ours = [hausdorff_distance(p == 1, g == 1, percentile) for p, g in zip(pred, gt, strict=True)]
    ref = monai_metrics.HausdorffDistanceMetric(include_background=False, percentile=percentile, reduction="none")
    np.testing.assert_allclose(ours, ref(one_hot(pred, 2), one_hot(gt, 2))[:, 0].numpy(), rtol=1e-5)


def test_hausdorff_hand_computed() -> None:
    gt = np.zeros((20, 20), bool)
    gt[5:10, 5:10] = True
    shifted = np.roll(gt, 3, axis=1)  # every boundary pixel moves 3 px; the nearest other boundary is <= 3 away
    assert hausdorff_distance(shifted, gt, None) == pytest.approx(3.0)
    assert hausdorff_distance(gt, gt) == 0.0


def test_multiclass_matches_monai() -> None:
    pred, gt = blobs(2, classes=4), blobs(3, classes=4)
    metrics = SegmentationMetrics("multiclass", num_classes=4, empty=float("nan"))
    rows = metrics.update(one_hot(pred, 4) * 5.0, gt)  # float scores -> argmax
    p, y = one_hot(pred, 4), one_hot(gt, 4)
    iou = monai_metrics.MeanIoU(include_background=True, reduction="none", ignore_empty=True)(p, y).numpy()
    dice = monai_metrics.DiceMetric(include_background=False, reduction="none", ignore_empty=True)(p, y).numpy()
    compared = 0
    for row, iou_row, dice_row in zip(rows, iou, dice, strict=True):
        # MONAI gives NaN when the ground truth lacks a class: compare the classes it defines
        for c in range(4):
            if not np.isnan(iou_row[c]):
                assert row[f"iou_{c}"] == pytest.approx(iou_row[c], rel=1e-6)
                compared += 1
            if c and not np.isnan(dice_row[c - 1]):
                assert row[f"dice_{c}"] == pytest.approx(dice_row[c - 1], rel=1e-6)
        assert row["miou"] == pytest.approx(np.nanmean([row[f"iou_{c}"] for c in range(4)]))
        assert row["dice"] == pytest.approx(np.nanmean([row[f"dice_{c}"] for c in range(1, 4)]))
    assert compared >= 12
