"""Input forms, empty masks, aggregation and state of SegmentationMetrics / compute_all."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unetzoo.metrics import SegmentationMetrics, compute_all

KEYS = {"dice", "iou", "miou", "accuracy", "precision", "recall", "specificity", "hd95"}


def square(size: int = 16, lo: int = 4, hi: int = 10) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.int64)
    mask[lo:hi, lo:hi] = 1
    return mask


def test_compute_all_keys_and_hand_values() -> None:
    gt = square()  # 36 px
    pred = np.zeros_like(gt)
    pred[4:10, 4:7] = 1  # 18 px, all inside
    out = compute_all(pred, gt)
    assert set(out) == KEYS
    assert out["dice"] == pytest.approx(2 * 18 / (18 + 36))
    assert out["iou"] == pytest.approx(0.5)
    assert out["precision"] == 1.0 and out["recall"] == pytest.approx(0.5)
    assert out["specificity"] == 1.0
    assert out["accuracy"] == pytest.approx(1 - 18 / 256)
    assert out["miou"] == pytest.approx((0.5 + 220 / 238) / 2)  # background IoU: 220 / (256 - 18)
    assert out["hd95"] > 0


def test_empty_masks_rule() -> None:
    empty, full = np.zeros((8, 8), np.int64), square(8, 2, 5)
    both = compute_all(empty, empty)
    assert both["dice"] == both["iou"] == both["precision"] == both["recall"] == 1.0
    assert math.isnan(both["hd95"])
    missed = compute_all(empty, full)  # nothing predicted, something there
    assert missed["dice"] == missed["iou"] == missed["precision"] == missed["recall"] == 0.0
    assert missed["hd95"] == math.inf
    invented = compute_all(full, empty)  # something predicted, nothing there
    assert invented["dice"] == invented["precision"] == invented["recall"] == 0.0
    assert invented["specificity"] == pytest.approx(1 - 9 / 64)
    assert math.isnan(compute_all(empty, empty, empty=float("nan"))["dice"])
    assert compute_all(empty, empty, empty=0.0)["dice"] == 0.0


def test_aggregate_skips_nan_and_inf_and_counts_infinite_hd95() -> None:
    gt = np.stack([square(), np.zeros((16, 16), np.int64), square()])
    pred = np.stack([square(), np.zeros((16, 16), np.int64), np.zeros((16, 16), np.int64)])
    metrics = SegmentationMetrics()
    metrics.update(pred, gt)
    agg = metrics.compute()
    assert agg["n_images"] == 3 and agg["hd95_n_inf"] == 1
    assert agg["hd95"] == 0.0  # image 0 only: image 1 is NaN (both empty), image 2 inf (missed)
    assert agg["dice"] == pytest.approx((1 + 1 + 0) / 3)
    nan_empty = SegmentationMetrics(empty=float("nan"))
    nan_empty.update(pred, gt)
    assert nan_empty.compute()["dice"] == pytest.approx(0.5)  # the empty image is left out


def test_prediction_forms_agree() -> None:
    gt = np.stack([square(), square(lo=2, hi=12)])
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 16, 16, generator=g) * 3
    labels = (logits.sigmoid() > 0.5).long()
    expected = SegmentationMetrics().update(labels, gt)
    assert SegmentationMetrics().update(logits, gt) == expected
    assert SegmentationMetrics().update(logits[:, 0].numpy(), torch.from_numpy(gt).unsqueeze(1)) == expected
    assert SegmentationMetrics(from_logits=False).update(logits.sigmoid(), gt) == expected
    assert SegmentationMetrics().update(labels.bool(), gt) == expected
    strict = SegmentationMetrics(from_logits=False, threshold=0.9).update(logits.sigmoid(), gt)
    assert strict == SegmentationMetrics().update((logits.sigmoid() > 0.9).long(), gt)


def test_state_update_per_image_reset() -> None:
    metrics = SegmentationMetrics()
    metrics.update(square()[None], square()[None])
    metrics.update(np.stack([square(), square()]), np.stack([square(), np.zeros((16, 16), np.int64)]))
    rows = metrics.per_image()
    assert len(rows) == 3 and set(rows[0]) == KEYS
    rows[0]["dice"] = -1.0  # a copy
    assert metrics.per_image()[0]["dice"] == 1.0
    metrics.reset()
    with pytest.raises(ValueError, match="update"):
        metrics.compute()


def test_multiclass_miou_includes_background() -> None:
    gt = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 1]])
    out = compute_all(pred, gt, num_classes=3)
    ious = [2 / 4, 3 / 4, 1 / 2]  # class 0: {00,10} / {00,01,10,12}; class 1: 3/4; class 2: 1/2
    assert out["miou"] == pytest.approx(np.mean(ious))
    assert out["iou"] == pytest.approx(np.mean(ious[1:]))  # foreground classes only
    assert [out[f"iou_{c}"] for c in range(3)] == pytest.approx(ious)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        SegmentationMetrics("multiclass")
    with pytest.raises(ValueError, match="one channel"):
        SegmentationMetrics().update(torch.randn(1, 2, 4, 4), np.zeros((1, 4, 4), np.int64))
    with pytest.raises(ValueError, match="labels outside"):
        compute_all(np.full((4, 4), 3), np.zeros((4, 4), np.int64))
    with pytest.raises(ValueError, match="class ids"):
        compute_all(np.full((4, 4), 0.7), np.zeros((4, 4), np.int64))
    assert compute_all(square().astype(float), square())["dice"] == 1.0  # float 0/1 masks are fine
