"""Checkpoints for the deploy tests: a registered model with non-trivial BatchNorm statistics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import unetzoo
from unetzoo.engine.checkpoint import save_checkpoint

MakeCheckpoint = Callable[..., Path]


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm running statistics and affine weights away from the identity (so folding shows)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model


def write_checkpoint(
    path: Path,
    name: str,
    *,
    preset: str | None = None,
    in_channels: int = 1,
    classes: int = 1,
    preprocess: dict[str, Any] | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> Path:
    """Build ``name`` (seeded), randomize its norms and save it as a unetzoo checkpoint at ``path``."""
    torch.manual_seed(seed)
    model = randomize_norms(
        unetzoo.create_model(name, preset=preset, in_channels=in_channels, classes=classes, **kwargs), seed
    )
    payload = {
        "model": {"name": name, "preset": preset, "kwargs": kwargs, "in_channels": in_channels, "classes": classes},
        "state_dict": model.state_dict(),
        "preprocess": preprocess or {"normalize": "zscore", "channels": in_channels, "mean": None, "std": None},
        "threshold": 0.5,
        "class_names": ["background", *(f"class{k}" for k in range(1, max(classes, 2)))],
        "metrics": {"dice": 0.91, "iou": torch.tensor(0.84)},
        "config": {},
    }
    return save_checkpoint(path, payload)
