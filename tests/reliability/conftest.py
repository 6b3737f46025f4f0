"""Fixtures of the reliability tests: small untrained checkpoints (prediction needs weights, not skill)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.engine.checkpoint import save_checkpoint


def write_checkpoint(path: Path, in_channels: int) -> Path:
    """A seeded, untrained ``ulite`` saved as a unetzoo checkpoint (with its sha256 record)."""
    torch.manual_seed(0)
    model = unetzoo.create_model("ulite", in_channels=in_channels, classes=1)
    payload = {
        "model": {"name": "ulite", "preset": None, "kwargs": {}, "in_channels": in_channels, "classes": 1},
        "state_dict": model.state_dict(),
        "preprocess": {"normalize": "zscore", "channels": in_channels, "mean": None, "std": None},
        "threshold": 0.5,
        "class_names": ["background", "foreground"],
        "config": {},
    }
    return save_checkpoint(path, payload)


@pytest.fixture(scope="session")
def gray_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "gray.pt", 1)


@pytest.fixture(scope="session")
def rgb_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "rgb.pt", 3)
