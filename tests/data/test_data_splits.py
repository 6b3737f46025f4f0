"""Splits: deterministic from a seed, independent of id order; k-fold; split files (ours and nnU-Net's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unetzoo.data import kfold_splits, load_split, make_split, save_split
from unetzoo.data.problems import DataError
from unetzoo.errors import UnetzooError

IDS = [f"img{i}" for i in range(50)]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 200),
    seed=st.integers(0, 2**32 - 1),
    val=st.floats(0.0, 0.45),
    test=st.floats(0.0, 0.45),
)
def test_make_split_partitions(n: int, seed: int, val: float, test: float) -> None:
    ids = [f"s{i}" for i in range(n)]
    n_val, n_test = (max(round(n * f), int(f > 0)) for f in (val, test))
    if n_val + n_test >= n:  # e.g. 4 samples at 0.45 / 0.45: no train set would be left
        with pytest.raises(DataError, match="cannot give"):
            make_split(ids, seed=seed, val_fraction=val, test_fraction=test)
        return
    split = make_split(ids, seed=seed, val_fraction=val, test_fraction=test)
    parts = split["train"] + split["val"] + split["test"]
    assert sorted(parts) == sorted(ids) and split["train"]
    assert make_split(ids[::-1], seed=seed, val_fraction=val, test_fraction=test) == split
    assert (len(split["val"]) > 0) == (val > 0)


def test_seed_changes_split_and_fractions_round() -> None:
    a, b = make_split(IDS, seed=0), make_split(IDS, seed=1)
    assert a != b and len(a["val"]) == len(b["val"]) == 10 and a["test"] == []
    c = make_split(IDS, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert (len(c["train"]), len(c["val"]), len(c["test"])) == (35, 5, 10)
    with pytest.raises(UnetzooError, match="non-empty train"):
        make_split(["a", "b"], val_fraction=0.5, test_fraction=0.4)
    with pytest.raises(UnetzooError, match="duplicate"):
        make_split(["a", "a", "b"])


def test_kfold_covers_every_id_once() -> None:
    folds = kfold_splits(IDS, k=5, seed=3)
    assert [f["fold"] for f in folds] == list(range(5))
    vals = [s for f in folds for s in f["val"]]
    assert sorted(vals) == sorted(IDS) and all(len(f["val"]) == 10 for f in folds)
    assert all(not set(f["train"]) & set(f["val"]) for f in folds)
    assert kfold_splits(IDS, k=5, seed=3) == folds
    with pytest.raises(UnetzooError, match="k=1 folds"):
        kfold_splits(IDS, k=1)


def test_split_files_round_trip_and_nnunet_lists(tmp_path: Path) -> None:
    split = make_split(IDS, seed=0)
    save_split(split, tmp_path / "run" / "split.json")
    assert load_split(tmp_path / "run" / "split.json", ids=IDS) == split
    nnunet = [{"train": f["train"], "val": f["val"]} for f in kfold_splits(IDS, k=3)]
    (tmp_path / "splits_final.json").write_text(json.dumps(nnunet))
    fold2 = load_split(tmp_path / "splits_final.json", ids=IDS, fold=2)
    assert fold2["val"] == nnunet[2]["val"] and fold2["test"] == []
    with pytest.raises(UnetzooError, match="holds 3 folds, fold 5"):
        load_split(tmp_path / "splits_final.json", fold=5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"train": "img1"}', "is not a split"),
        ('{"train": []}', "empty train list"),
        ('{"train": ["img1"], "val": ["img1"]}', "in both train and val"),
        ('{"train": ["img1", "ghost", "other"]}', "2 ids are not in the dataset"),
    ],
)
def test_bad_split_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "split.json"
    path.write_text(content)
    with pytest.raises(UnetzooError, match=message) as err:
        load_split(path, ids=IDS)
    assert str(err.value).startswith(f"{path}: ")
    with pytest.raises(UnetzooError, match="no such split file"):
        load_split(tmp_path / "missing.json")
