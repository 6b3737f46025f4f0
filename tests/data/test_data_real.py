"""The real data in ../shared/data (UNETZOO_SHARED_DATA) through the real loader: ISBI 2012 and DSB 2018."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unetzoo.cli import main
from unetzoo.data import Preprocess, SegmentationDataset, build_augment, check_source, make_split, open_source

pytestmark = pytest.mark.shared_data


def test_isbi2012_folder_polarity_and_check(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_data / "isbi2012"
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "format: folder, 30 samples" in out and "sizes (HxW): 512x512: 30" in out
    assert "result: ok (0 errors, 0 warnings)" in out and "\nerror:" not in out

    src = open_source(root)
    assert src.ids[:3] == ["00", "01", "02"] and src.in_channels == 1 and src.classes == 2
    image, mask = src.load(7)
    assert image.shape == (512, 512, 1) and mask.shape == (512, 512)
    assert 0.7 < mask.mean() < 0.85  # cells (255) are the foreground by default
    membranes = open_source(root, invert_mask=True).load(7)[1]
    np.testing.assert_array_equal(membranes, 1 - mask)
    report = check_source(root, invert_mask=True)
    assert report.ok and 0.15 < report.summary["foreground_fraction"]["mean"] < 0.3


def test_dsb2018_check_and_samples(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_data / "dsb2018"
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "format: folder, 519 samples" in out and "result: ok (0 errors, 0 warnings)" in out
    assert "sizes (HxW): 256x256: 257" in out and "channels 3 (RGB: 519)" in out

    src = open_source(root)
    assert len(src) == 519 and src.in_channels == 3
    largest = max(range(len(src)), key=lambda i: src.headers(i)[0].height * src.headers(i)[0].width)
    assert src.headers(largest)[0].width == 1388
    split = make_split(src.ids, seed=0)
    ds = SegmentationDataset(
        src, [src.ids[largest], *split["val"][:3]], Preprocess("zscore", channels=3), build_augment("default"),
        patch_size=(256, 256),
    )  # fmt: skip
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.shape == (3, 256, 256) and mask.shape == (256, 256)
        assert set(mask.unique().tolist()) <= {0, 1}
