"""EM scores: ISBI 2012 V_rand / V_info against hand computations; scikit-image scores wired the right way."""

from __future__ import annotations

from math import log

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error, variation_of_information

from unetzoo.metrics import (
    SegmentationMetrics,
    compute_all,
    connected_components,
    em_scores,
    foreground_restricted_scores,
)


def test_v_rand_v_info_hand_computed() -> None:
    # ground truth: two segments of 2 px; prediction: 3 px + 1 px.
    # p = [[2/4, 1/4], [0, 1/4]] (rows = predicted, cols = true), s = (3/4, 1/4), t = (1/2, 1/2)
    gt, pred = np.array([[1, 1, 2, 2]]), np.array([[5, 5, 5, 7]])
    out = foreground_restricted_scores(pred, gt)
    sum_p2, sum_s2, sum_t2 = 6 / 16, 10 / 16, 8 / 16
    assert out["v_rand_split"] == pytest.approx(sum_p2 / sum_t2)  # 0.75
    assert out["v_rand_merge"] == pytest.approx(sum_p2 / sum_s2)  # 0.6
    assert out["v_rand"] == pytest.approx(2 * sum_p2 / (sum_s2 + sum_t2))  # 2/3
    h_s = -(3 / 4 * log(3 / 4) + 1 / 4 * log(1 / 4))
    h_t = log(2)
    mutual = 2 / 4 * log((2 / 4) / (3 / 4 * 1 / 2)) + 1 / 4 * log((1 / 4) / (3 / 4 * 1 / 2)) + 1 / 4 * log(2)
    assert out["v_info_split"] == pytest.approx(mutual / h_s)
    assert out["v_info_merge"] == pytest.approx(mutual / h_t)
    assert out["v_info"] == pytest.approx(2 * mutual / (h_s + h_t))


def test_restriction_to_ground_truth_foreground_and_singletons() -> None:
    gt = np.array([[1, 1, 0, 0], [1, 1, 0, 0]])
    # predicted labels on the ground-truth background do not matter
    assert foreground_restricted_scores(np.array([[3, 3, 3, 9], [3, 3, 4, 0]]), gt)["v_rand"] == 1.0
    # predicted background inside a cell: each such pixel is its own segment (a split), s = (1/2, 1/4, 1/4)
    out = foreground_restricted_scores(np.array([[3, 3, 0, 0], [0, 0, 0, 0]]), gt)
    sum_p2 = 1 / 4 + 2 / 16
    assert out["v_rand_split"] == pytest.approx(sum_p2 / 1.0)
    assert out["v_rand_merge"] == 1.0
    assert out["v_info_split"] == 0.0 and out["v_info_merge"] == 1.0  # I = 0, H(T) = 0
    assert out["v_info"] == 0.0


def test_perfect_merge_and_empty_cases() -> None:
    gt = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
    assert foreground_restricted_scores(gt * 7, gt)["v_info"] == pytest.approx(1.0)
    merged = foreground_restricted_scores(np.ones_like(gt), gt)  # one segment for two cells
    assert merged["v_rand_split"] == 1.0 and merged["v_rand_merge"] == pytest.approx(0.5)
    assert merged["v_info_split"] == 1.0 and merged["v_info_merge"] == 0.0
    assert all(np.isnan(v) for v in foreground_restricted_scores(gt, np.zeros_like(gt)).values())


@pytest.mark.parametrize("seed", range(3))
def test_v_info_agrees_with_skimage_conditional_entropies(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt, pred = rng.integers(1, 4, (10, 12)), rng.integers(1, 5, (10, 12))
    h_s_given_t = variation_of_information(gt, pred)[0] * log(2)  # H(pred | gt), bits -> nats
    _, counts = np.unique(pred, return_counts=True)
    h_s = -np.sum(counts / pred.size * np.log(counts / pred.size))
    out = foreground_restricted_scores(pred, gt)
    assert out["v_info_split"] == pytest.approx((h_s - h_s_given_t) / h_s)


def cells() -> tuple[np.ndarray, np.ndarray]:
    """Two cells separated by a membrane; the prediction splits the left one with a false membrane."""
    gt = np.ones((10, 12), np.int64)
    gt[:, 6] = 0
    pred = gt.copy()
    pred[5, :6] = 0
    return pred, gt


def test_em_scores_split_direction_and_skimage_wiring() -> None:
    pred, gt = cells()
    out = em_scores(pred, gt)
    # mostly a split (the false membrane's pixels also join the background segment: a small merge)
    assert out["vi_split"] > 4 * out["vi_merge"] > 0
    labels_pred, labels_gt = connected_components(pred), connected_components(gt)
    assert labels_pred.max() == 3 and labels_gt.max() == 2
    assert out["adapted_rand_error"] == pytest.approx(adapted_rand_error(labels_gt, labels_pred)[0])
    assert out["vi_split"] == pytest.approx(variation_of_information(labels_gt, labels_pred)[0])
    assert 0 < out["v_rand"] < 1 and 0 < out["v_info"] < 1
    merged = em_scores(np.ones_like(gt), gt)  # the membrane is missed: a merge
    assert merged["vi_merge"] > 0 and merged["vi_split"] == pytest.approx(0.0, abs=1e-12)
    perfect = em_scores(gt, gt)
    assert perfect["adapted_rand_error"] == 0.0 and perfect["v_rand"] == 1.0 and perfect["v_info"] == 1.0


def test_em_keys_through_the_public_api() -> None:
    pred, gt = cells()
    assert {"adapted_rand_error", "vi_split", "vi_merge", "v_rand", "v_info"} <= set(compute_all(pred, gt, em=True))
    metrics = SegmentationMetrics(em=True)
    metrics.update(np.stack([pred, gt]), np.stack([gt, np.zeros_like(gt)]))
    agg = metrics.compute()
    assert agg["v_rand"] == pytest.approx(metrics.per_image()[0]["v_rand"])  # image 2 (no cells) is NaN: skipped
