"""Seeds and random-number-generator states: what makes a run repeatable and a resumed run exact.

Data order and augmentation derive from (seed, epoch, index) (:mod:`unetzoo.engine.sampling`), so only the
global generators need saving in a checkpoint: torch's (dropout, initialisation) and Python's.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; ``deterministic`` asks torch for deterministic kernels (warning otherwise)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def rng_state() -> dict[str, Any]:
    """torch's and Python's generator states, as a checkpoint stores them."""
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}


def restore_rng(state: dict[str, Any]) -> None:
    """Set the generators back to a :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
