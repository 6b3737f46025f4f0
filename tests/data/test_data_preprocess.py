"""Preprocess: normalizations, channel handling, fit, serialization; resize helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unetzoo.data import Preprocess, open_source
from unetzoo.errors import UnetzooError

RNG = np.random.default_rng(0)
IMAGE = (RNG.random((20, 30, 3)) * np.array([255, 100, 10])).astype(np.float32)


def test_zscore_minmax_none() -> None:
    z = Preprocess("zscore")(IMAGE)
    assert z.shape == (3, 20, 30) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(1, 2)), 1, atol=1e-4)
    m = Preprocess("minmax")(IMAGE)
    np.testing.assert_allclose(m.min(axis=(1, 2)), 0)
    np.testing.assert_allclose(m.max(axis=(1, 2)), 1, rtol=1e-6)
    np.testing.assert_array_equal(Preprocess("none")(IMAGE), IMAGE.transpose(2, 0, 1))
    assert np.isfinite(Preprocess("zscore")(np.zeros((4, 4, 1), np.float32))).all()


def test_channel_handling() -> None:
    gray = IMAGE[..., :1]
    assert Preprocess("none", channels=3)(gray).shape == (3, 20, 30)
    luma = Preprocess("none", channels=1)(IMAGE)
    np.testing.assert_allclose(luma[0], IMAGE @ np.array([0.299, 0.587, 0.114]), rtol=1e-5)
    with pytest.raises(UnetzooError, match=r"has 2 channel\(s\) but the model expects 3"):
        Preprocess("none", channels=3)(IMAGE[..., :2])


def test_dataset_statistics_fit_and_round_trip() -> None:
    src = open_source("synthetic:nuclei?n=4&size=32")
    pre = Preprocess("dataset", channels=3).fit(src, src.ids[:3])
    stacked = np.stack([src.load(i)[0] for i in range(3)])
    np.testing.assert_allclose(pre.mean, stacked.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(pre.std, stacked.std(axis=(0, 1, 2)), rtol=1e-4)
    again = Preprocess.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again(IMAGE), pre(IMAGE))
    with pytest.raises(UnetzooError, match="call fit"):
        Preprocess("dataset")(IMAGE)
    with pytest.raises(UnetzooError, match="unknown normalization"):
        Preprocess("l2")
    with pytest.raises(UnetzooError, match="unknown keys"):
        Preprocess.from_dict({"normalize": "none", "gamma": 2})
