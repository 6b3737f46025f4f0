"""Fixtures of the deploy tests; the checkpoint builder lives in deploy_ckpt.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_ckpt import MakeCheckpoint, write_checkpoint


@pytest.fixture
def make_checkpoint(tmp_path: Path) -> MakeCheckpoint:
    """``make_checkpoint(name, **options)`` -> path of a fresh checkpoint in ``tmp_path``."""

    def make(name: str, **options: Any) -> Path:
        return write_checkpoint(tmp_path / f"{name}-{len(list(tmp_path.glob('*.pt')))}.pt", name, **options)

    return make
