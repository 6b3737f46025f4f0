"""Deterministic train/val/test splits, k-fold cross-validation, and split files.

A split is a dict ``{"seed", "train", "val", "test", ...}`` of sample ids. It depends only on the set of ids and
the seed (ids are sorted before shuffling), so it is reproducible across machines and file orders. Split files
are JSON, in the spirit of nnU-Net's ``splits_final.json``; :func:`load_split` also reads that file itself (a list
of ``{"train", "val"}`` folds).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.problems import fail
from unetzoo.data.source import natural_key

Split = dict[str, Any]
_PARTS = ("train", "val", "test")


def _shuffled(ids: Sequence[str], seed: int) -> list[str]:
    ordered = sorted(set(ids), key=natural_key)
    if len(ordered) != len(ids):
        raise fail("ids", f"{len(ids) - len(ordered)} duplicate sample ids", "give every sample a unique id")
    return [ordered[k] for k in np.random.default_rng(seed).permutation(len(ordered))]


def _sorted(ids: Sequence[str]) -> list[str]:
    return sorted(ids, key=natural_key)


def make_split(ids: Sequence[str], seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.0) -> Split:
    """Shuffle ``ids`` with ``seed`` and cut off rounded fractions for val and test (at least one sample each
    when the fraction is positive); the rest is train."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise fail("split", f"fractions val={val_fraction}, test={test_fraction}", "use 0 <= val + test < 1")
    order = _shuffled(ids, seed)
    n_test = max(round(len(order) * test_fraction), int(test_fraction > 0))
    n_val = max(round(len(order) * val_fraction), int(val_fraction > 0))
    if n_val + n_test >= len(order):
        what = f"{len(order)} samples cannot give {n_val} val + {n_test} test and a non-empty train set"
        raise fail("split", what, "use more data or smaller fractions")
    return {
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "train": _sorted(order[n_val + n_test :]),
        "val": _sorted(order[n_test : n_test + n_val]),
        "test": _sorted(order[:n_test]),
    }


def kfold_splits(ids: Sequence[str], k: int, seed: int = 0) -> list[Split]:
    """``k`` folds: fold ``f`` validates on the ``f``-th of ``k`` near-equal parts of the shuffled ids."""
    order = _shuffled(ids, seed)
    if not 2 <= k <= len(order):
        raise fail("split", f"k={k} folds for {len(order)} samples", "use 2 <= k <= number of samples")
    parts = np.array_split(np.arange(len(order)), k)
    return [
        {
            "seed": seed,
            "fold": f,
            "k": k,
            "train": _sorted([order[j] for g, part in enumerate(parts) if g != f for j in part]),
            "val": _sorted([order[j] for j in parts[f]]),
            "test": [],
        }
        for f in range(k)
    ]


def save_split(split: Split | list[Split], path: str | os.PathLike[str]) -> None:
    """Write a split (or a list of folds) as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(split, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_split(path: str | os.PathLike[str], ids: Sequence[str] | None = None, fold: int = 0) -> Split:
    """Read a split file; validate it against the dataset's ``ids`` when given.

    A list of folds (``kfold_splits`` output or nnU-Net's ``splits_final.json``) yields fold ``fold``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(path, "no such split file", "check --split-file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(path, f"not valid JSON ({exc})", "fix the file or make a new split") from None
    if isinstance(data, list):
        if not 0 <= fold < len(data):
            raise fail(path, f"holds {len(data)} folds, fold {fold} was asked", f"pick a fold in 0..{len(data) - 1}")
        data = data[fold]
    if not isinstance(data, dict) or not all(isinstance(data.get(p, []), list) for p in _PARTS):
        raise fail(path, "is not a split (an object with train/val/test id lists)", "make one with make_split")
    split = {**data, **{p: [str(x) for x in data.get(p, [])] for p in _PARTS}}
    if not split["train"]:
        raise fail(path, "has an empty train list", "make a new split")
    seen: dict[str, str] = {}
    for part in _PARTS:
        for sample in split[part]:
            if sample in seen:
                raise fail(path, f"id {sample!r} is in both {seen[sample]} and {part}", "make a new split")
            seen[sample] = part
    if ids is not None:
        unknown = sorted(set(seen) - set(ids), key=natural_key)
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:3])
            what = f"{len(unknown)} ids are not in the dataset (e.g. {shown})"
            fix = "the split was made for other data: make a new one or pass the matching --data"
            raise fail(path, what, fix)
    return split
