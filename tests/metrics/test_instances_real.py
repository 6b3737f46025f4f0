"""Instance labels and scores on the real DSB 2018 instance maps in ../shared/data (UNETZOO_SHARED_DATA)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unetzoo.cli import main
from unetzoo.data import check_source, open_source
from unetzoo.data.io import read_image, write_image
from unetzoo.metrics import aggregate_instances, connected_components, instance_counts

pytestmark = pytest.mark.shared_data


def test_score_29_predictions_equals_the_library(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = shared_data / "dsb2018"
    files = sorted((root / "instances").iterdir())[:29]
    rng = np.random.default_rng(0)
    counts = []
    (tmp_path / "pred").mkdir()
    for f in files:  # a plausible prediction: shifted 1 px, ids shuffled, every 7th object missed
        true = read_image(f, mask=True)
        ids = np.r_[0, rng.permutation(int(true.max())) + 1].astype(np.uint16)
        ids[7::7] = 0
        pred = np.roll(ids[true], 1, axis=0)
        write_image(tmp_path / "pred" / f"{f.stem}_cp_masks.png", pred)
        counts.append(instance_counts(pred, true))
    csv = tmp_path / "per_image.csv"
    assert main(["score", str(tmp_path / "pred"), str(root), "--instances", "--json", "--csv", str(csv)]) == 0
    got = json.loads(capsys.readouterr().out)
    want = aggregate_instances(counts)
    assert got == pytest.approx({**want, "n_unpaired_pred": 0, "n_unpaired_gt": 519 - 29})
    assert got["n_images"] == 29 and 0.3 < got["map"] < 0.95 and got["fn_50"] > 0
    assert len(csv.read_text().splitlines()) == 30


def test_connected_components_of_a_perfect_mask_lose_the_touching_nuclei(shared_data: Path) -> None:
    src = open_source(shared_data / "dsb2018")
    assert src.has_instances
    counts = []
    for i in range(0, len(src), 52):  # 10 images across the set
        true = src.read_instances(i)
        assert true.shape == src.load(i)[1].shape
        assert instance_counts(true, true).scores()["map"] == 1.0
        counts.append(instance_counts(connected_components(src.load(i)[1]), true))
    merged = aggregate_instances(counts)
    assert merged["n_pred"] < merged["n_true"] and 0.4 < merged["map"] < 0.95


def test_check_counts_the_dsb_objects(shared_data: Path) -> None:
    report = check_source(shared_data / "dsb2018")
    assert report.ok and not report.warnings
    instances = report.summary["instances"]
    assert instances["samples"] == 519 and instances["objects"] == 21648
    assert instances["objects_per_image"]["min"] == 1 and instances["objects_per_image"]["max"] == 369
    assert 0.1 < instances["touching_fraction"] < 0.5 and instances["empty"] == 0
