"""Fixtures of the data tests; the builders live in datagen.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from datagen import MakeFolder, blob_mask, gray_image, save


@pytest.fixture
def make_folder(tmp_path: Path) -> MakeFolder:
    """``make_folder(n=4, size=(32, 32), name="ds")``: images/ + masks/ with ``n`` gray/binary PNG pairs."""

    def make(n: int = 4, size: tuple[int, int] = (32, 32), name: str = "ds") -> Path:
        root = tmp_path / name
        for i in range(n):
            save(root / "images" / f"img{i}.png", gray_image(*size, seed=i))
            save(root / "masks" / f"img{i}.png", blob_mask(*size, seed=i))
        return root

    return make
