"""Shared fixtures. Real data is reached through UNETZOO_SHARED_DATA (set by .ci/run to ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # pytest -n 2 on 2 cores: one thread per worker


def _shared_data() -> Path | None:
    env = os.environ.get("UNETZOO_SHARED_DATA")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parents[2] / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fingerprints and cost calibrations go to a fresh folder per test session, never the user's cache."""
    os.environ["UNETZOO_CACHE_DIR"] = str(tmp_path_factory.mktemp("unetzoo-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; in CI (CI=true) its absence is a failure, not a skip."""
    path = _shared_data()
    if path is None or not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail("UNETZOO_SHARED_DATA is not set or not a directory in CI")
        pytest.skip("real data not available: set UNETZOO_SHARED_DATA=../shared/data")
    return path
