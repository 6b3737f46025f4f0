"""Instance metrics against a brute-force reference on random label images, and their conventions.

The reference works object by object with boolean masks, finds the largest one-to-one matching by trying every
assignment, and follows Kumar et al.'s AJI pseudo-code literally; the library uses one contingency table.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.segmentation import relabel_sequential

from unetzoo.data.instances import relabel
from unetzoo.metrics import DSB_THRESHOLDS, INSTANCE_KEYS, aggregate_instances, instance_counts, matching

IDS = np.array([1, 2, 3, 7, 255, 256, 65535, 70000, -1, -40, 2**40, -(2**35)], dtype=np.int64)
LOW = (0.0, 0.1, 0.3)


# --- the brute-force reference ---------------------------------------------------------------------------------
def objects(labels: np.ndarray) -> list[np.ndarray]:
    """One boolean mask per non-zero id, in increasing id order."""
    return [labels == v for v in sorted(set(labels.ravel().tolist()) - {0})]


def iou_table(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    ts, ps = objects(true), objects(pred)
    table = np.zeros((len(ts), len(ps)))
    for i, t in enumerate(ts):
        for j, p in enumerate(ps):
            table[i, j] = (t & p).sum() / (t | p).sum()
    return table


def max_matching(candidate: np.ndarray, i: int = 0, used: frozenset[int] = frozenset()) -> int:
    """The largest set of disjoint (true, pred) candidate pairs, by trying every choice for each true object."""
    if i == candidate.shape[0]:
        return 0
    best = max_matching(candidate, i + 1, used)
    for j in np.nonzero(candidate[i])[0]:
        if j not in used:
            best = max(best, 1 + max_matching(candidate, i + 1, used | {int(j)}))
    return best


def kumar_aji(pred: np.ndarray, true: np.ndarray) -> float:
    """Kumar et al. 2017, Algorithm 1 (ties: the first predicted object in id order)."""
    ts, ps = objects(true), objects(pred)
    c = u = 0
    used = [False] * len(ps)
    for t in ts:
        ious = [(t & p).sum() / (t | p).sum() for p in ps]
        if not ps or max(ious) == 0:
            u += t.sum()
            continue
        j = int(np.argmax(ious))
        c += (t & ps[j]).sum()
        u += (t | ps[j]).sum()
        used[j] = True
    u += sum(p.sum() for p, k in zip(ps, used, strict=True) if not k)
    return c / u if u else 1.0


def reference(pred: np.ndarray, true: np.ndarray, thresholds: tuple[float, ...]) -> dict[str, float]:
    table = iou_table(pred, true)
    n_true, n_pred = table.shape
    out: dict[str, float] = {"n_true": n_true, "n_pred": n_pred, "aji": kumar_aji(pred, true)}
    for t in thresholds:
        tp = max_matching(table > t)
        fp, fn = n_pred - tp, n_true - tp
        out[t] = tp / (tp + fp + fn) if tp + fp + fn else 1.0
        if t == 0.5:
            out["tp_50"] = tp
            out["f1_50"] = 2 * tp / (2 * tp + fp + fn) if n_true + n_pred else 1.0
    out["map"] = float(np.mean([out[t] for t in DSB_THRESHOLDS]))
    return out


# --- random label images ---------------------------------------------------------------------------------------
def rectangles(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """Up to ``n`` rectangles painted in turn (later ones cover earlier ones) with ids drawn from IDS."""
    labels = np.zeros((size, size), np.int64)
    for v in rng.choice(IDS, size=n, replace=False):
        y, x = rng.integers(0, size - 2, 2)
        h, w = rng.integers(2, size // 2 + 2, 2)
        labels[y : y + h, x : x + w] = v
    return labels


def perturbed(rng: np.random.Generator, true: np.ndarray) -> np.ndarray:
    """A prediction: ids renamed, pixels flipped, rectangles shifted, an object split or merged, a false one."""
    pred = true.copy()
    ids = [v for v in np.unique(true) if v != 0]
    renamed = dict(zip(ids, rng.choice(IDS, size=len(ids), replace=False), strict=True))
    pred = np.vectorize(lambda v: renamed.get(v, 0), otypes=[np.int64])(pred)
    if rng.random() < 0.5:
        pred = np.roll(pred, tuple(rng.integers(-1, 2, 2)), axis=(0, 1))
    flip = rng.random(pred.shape) < rng.uniform(0, 0.15)
    pred[flip] = rng.choice(np.unique(pred), size=int(flip.sum()))
    if rng.random() < 0.3 and ids:  # split one object along a row
        where = pred == pred[pred != 0][0] if (pred != 0).any() else pred != pred
        pred[where & (np.arange(pred.shape[0])[:, None] % 2 == 0)] = 123456
    if rng.random() < 0.3:
        y, x = rng.integers(0, pred.shape[0] - 2, 2)
        pred[y : y + 3, x : x + 3] = -999
    return pred


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(6, 16))
    kind = draw(st.sampled_from(["perturbed", "independent", "noise"]))
    if kind == "noise":  # every pixel an id of a small set: fragmented objects, many weak overlaps
        pool = rng.choice(IDS, size=4, replace=False)
        return rng.choice(np.r_[pool, 0], size=(size, size)), rng.choice(np.r_[pool, 0], size=(size, size))
    true = rectangles(rng, size, draw(st.integers(0, 6)))
    pred = perturbed(rng, true) if kind == "perturbed" else rectangles(rng, size, draw(st.integers(0, 6)))
    return pred, true


# --- agreement with the reference ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(label_pairs())
def test_counts_and_scores_match_brute_force(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, true = pair
    want = reference(pred, true, (*LOW, *DSB_THRESHOLDS))
    counts = instance_counts(pred, true, thresholds=LOW)
    got = counts.scores()
    assert (got["n_true"], got["n_pred"], got["tp_50"]) == (want["n_true"], want["n_pred"], want["tp_50"])
    for t in (*LOW, *DSB_THRESHOLDS):
        assert counts.ap(t) == pytest.approx(want[t], abs=1e-12), t
    for key in ("map", "f1_50", "aji"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


@settings(max_examples=50, deadline=None)
@given(label_pairs())
def test_the_sparse_pair_count_equals_the_dense_one(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """Above ``_DENSE_PAIRS`` objects squared the pairs are counted by ``np.unique``: same table."""
    pred, true = pair
    dense = instance_counts(pred, true, thresholds=LOW)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matching, "_DENSE_PAIRS", 0)
        assert instance_counts(pred, true, thresholds=LOW) == dense


@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_scores_do_not_depend_on_the_ids(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, true = pair
    assert instance_counts(pred, true) == instance_counts(relabel(pred)[0].astype(np.uint16), relabel(true)[0])


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.uint8, np.uint16, np.int32, np.uint32, np.int64, np.uint64]))
def test_relabel_is_skimage_relabel_sequential(seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    top = min(np.iinfo(dtype).max, 2**40)
    values = rng.integers(0, top, size=rng.integers(1, 6), endpoint=True).astype(dtype)
    labels = rng.choice(np.r_[values, dtype(0)], size=(7, 9))
    got, n = relabel(labels)
    want = relabel_sequential(labels)[0]
    np.testing.assert_array_equal(got, want)
    assert n == len(set(labels.ravel().tolist()) - {0}) and got.dtype == np.int32


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32, np.int64, np.uint64, bool])
def test_relabel_of_ids_one_to_n_keeps_them(dtype: type) -> None:
    labels = np.random.default_rng(9).integers(0, 2 if dtype is bool else 6, size=(9, 11)).astype(dtype)
    got, n = relabel(labels)
    np.testing.assert_array_equal(got, labels.astype(np.int64))
    assert n == int(labels.max()) and got.dtype == np.int32


def test_relabel_negative_and_bool_ids() -> None:
    got, n = relabel(np.array([[0, -5, 3], [2**40, -5, 0]]))
    np.testing.assert_array_equal(got, [[0, 1, 2], [3, 1, 0]])
    assert n == 3
    np.testing.assert_array_equal(relabel(np.eye(2, dtype=bool))[0], np.eye(2))


# --- conventions ------------------------------------------------------------------------------------------------
def two_objects() -> np.ndarray:
    true = np.zeros((10, 10), np.int64)
    true[1:5, 1:5], true[6:9, 6:9] = 7, 3
    return true


def test_hand_worked_example() -> None:
    true = two_objects()
    pred = np.zeros_like(true)
    pred[1:5, 1:4] = 100  # IoU 12/16 = 0.75 with object 7: a match up to t = 0.70
    pred[0:2, 7:9] = -2  # overlaps nothing: a false positive
    row = instance_counts(pred, true).scores()
    assert row["ap50"] == row["ap70"] == pytest.approx(1 / 3) and row["ap75"] == 0.0  # IoU must be *above* t
    assert row["map"] == pytest.approx(5 / 3 / 10)  # matched at 0.50, 0.55, 0.60, 0.65, 0.70
    assert row["f1_50"] == row["precision_50"] == row["recall_50"] == pytest.approx(0.5)
    assert row["aji"] == pytest.approx(12 / (16 + 9 + 4))  # object 3 unmatched (+9), pred -2 unused (+4)
    assert (row["tp_50"], row["fp_50"], row["fn_50"]) == (1, 1, 1)


def test_merge_at_exactly_half_is_no_match_but_one_match_below() -> None:
    true = np.zeros((4, 8), np.int64)
    true[:, :4], true[:, 4:] = 1, 2
    pred = (true != 0).astype(np.int64)  # one object covering both: IoU 0.5 with each
    counts = instance_counts(pred, true, thresholds=[0.3])
    assert counts.at(0.5) == (0, 1, 2)  # strict: IoU must exceed 0.5
    assert counts.at(0.3) == (1, 0, 1)  # two candidates, one-to-one: one match
    assert counts.scores()["aji"] == pytest.approx(16 / 32)  # the pred serves both true objects (Kumar)


def test_identical_up_to_ids_is_perfect_and_empty_images_follow_the_rule() -> None:
    true = two_objects()
    perfect = instance_counts(np.where(true == 7, -1, true * 1000), true).scores()
    assert perfect["map"] == perfect["aji"] == perfect["f1_50"] == 1.0
    empty = np.zeros_like(true)
    both_empty = instance_counts(empty, empty).scores()
    assert all(both_empty[k] == 1.0 for k in ("map", "ap50", "f1_50", "aji", "precision_50", "recall_50"))
    assert math.isnan(instance_counts(empty, empty).scores(empty=float("nan"))["map"])
    missed = instance_counts(empty, true).scores()
    assert missed["map"] == missed["aji"] == missed["precision_50"] == missed["recall_50"] == 0.0
    assert instance_counts(true, empty).scores()["map"] == 0.0


def test_aggregate_is_the_mean_over_images_and_the_sum_of_counts() -> None:
    true = two_objects()
    pred = np.zeros_like(true)
    pred[1:5, 1:4] = 1
    rows = [instance_counts(pred, true), instance_counts(true, true), instance_counts(pred * 0, pred * 0)]
    agg = aggregate_instances(rows)
    assert set(INSTANCE_KEYS) <= set(agg)
    assert agg["n_images"] == 3 and agg["n_true"] == 4 and agg["n_pred"] == 3 and agg["tp_50"] == 3
    assert agg["map"] == pytest.approx(np.mean([r.scores()["map"] for r in rows]))
    assert agg["ap50"] == pytest.approx((0.5 + 1 + 1) / 3)
    without_empty = aggregate_instances(rows, empty=float("nan"))
    assert without_empty["ap50"] == pytest.approx(0.75) and without_empty["n_images"] == 3
    with pytest.raises(ValueError, match="no images"):
        aggregate_instances([])
    with pytest.raises(ValueError, match="different IoU thresholds"):
        aggregate_instances([rows[0], instance_counts(pred, true, thresholds=[0.3])])


def test_shapes_must_agree() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        instance_counts(np.zeros((4, 4), int), np.zeros((4, 5), int))
