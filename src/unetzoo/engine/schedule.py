"""Learning-rate schedules as pure functions of training progress, so resume needs no scheduler state.

``progress`` is the larger of (steps done / planned steps) and (elapsed / budget): with a wall-clock
budget the schedule follows the clock, which keeps comparisons under equal time fair.
"""

from __future__ import annotations

import math

import torch


def lr_factor(kind: str, progress: float) -> float:
    """Multiplier of the base learning rate at ``progress`` in [0, 1]."""
    p = min(max(progress, 0.0), 1.0)
    if kind == "cosine":
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "step":  # x0.1 at 50% and again at 75% of training
        return 0.1 ** ((p >= 0.5) + (p >= 0.75))
    return 1.0  # "none"; "plateau" is driven by validation instead


class Plateau:
    """ReduceLROnPlateau on validation Dice (mode max), as U-Lite trains (factor 0.5, patience 10)."""

    def __init__(self, optimizer: torch.optim.Optimizer, patience: int = 10, factor: float = 0.5) -> None:
        self.inner = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=factor, patience=patience)

    def step(self, metric: float) -> None:
        self.inner.step(metric)

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
