"""nnU-Net raw v2 writer: a round trip through the reader gives the same samples; bad data writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datagen import MakeFolder, blob_mask, save

from unetzoo.data import open_source
from unetzoo.data.convert import case_ids, convert_to_nnunet
from unetzoo.errors import UnetzooError


def assert_same_samples(a: object, b: object) -> None:
    assert len(a) == len(b) and a.classes == b.classes and a.in_channels == b.in_channels
    for i in range(len(a)):
        for x, y in zip(a.load_native(i), b.load_native(i), strict=True):
            np.testing.assert_array_equal(x, y)


def test_rgb_round_trip(tmp_path: Path) -> None:
    src = open_source("synthetic:nuclei?n=3&size=32")
    target = convert_to_nnunet(src, tmp_path, 501)
    assert target.name == "Dataset501_synthetic_nuclei"
    assert sorted(p.name for p in (target / "imagesTr").iterdir())[0] == "nuclei_0000_0000.png"
    meta = json.loads((target / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "R", "1": "G", "2": "B"} and meta["labels"] == {"background": 0, "nucleus": 1}
    assert meta["numTraining"] == 3 and meta["file_ending"] == ".png"
    back = open_source(target)
    assert back.format == "nnunet" and back.ids == src.ids
    assert_same_samples(src, back)
    with pytest.raises(UnetzooError, match="dataset id 501 is taken"):
        convert_to_nnunet(src, tmp_path, 501, name="Other")


def test_16bit_multiclass_renamed_cases(tmp_path: Path) -> None:
    root = tmp_path / "in"
    image = np.arange(24 * 24, dtype=np.uint16).reshape(24, 24) * 50
    for stem in ("a b", "a_b"):
        save(root / "images" / f"{stem}.png", image)
        save(root / "masks" / f"{stem}.png", np.minimum(image // 4000, 2).astype(np.uint8))
    src = open_source(root)
    target = convert_to_nnunet(src, tmp_path / "raw", 502, name="Sixteen")
    meta = json.loads((target / "dataset.json").read_text())
    assert case_ids(src.ids) == ["a_b", "a_b-1"] and meta["unetzoo"]["case_ids"] == {"a_b": "a b", "a_b-1": "a_b"}
    assert meta["labels"] == {"background": 0, "class1": 1, "class2": 2} and meta["channel_names"] == {"0": "gray"}
    back = open_source(target)
    for i in range(2):
        np.testing.assert_array_equal(back.load_native(i)[0][..., 0], image)
        np.testing.assert_array_equal(back.load_native(i)[1], src.load_native(i)[1])


def test_bad_data_or_options_write_nothing(tmp_path: Path, make_folder: MakeFolder) -> None:
    root = make_folder(n=2)
    mask = blob_mask(32, 32, seed=0)
    mask[0, 0] = 7
    save(root / "masks" / "img0.png", mask)
    with pytest.raises(UnetzooError, match="stray values"):
        convert_to_nnunet(open_source(root), tmp_path / "raw", 503)
    for bad_id, name in ((1000, None), (503, "bad name!")):
        with pytest.raises(UnetzooError, match="nnU-Net dataset"):
            convert_to_nnunet(open_source(root, positive=255), tmp_path / "raw", bad_id, name)
    assert not (tmp_path / "raw").exists()
