"""Pyramidal convolution (PyConv; Duta et al. 2020, "Pyramidal Convolution: Rethinking Convolutional
Neural Networks for Visual Recognition", Sec. 2 and Table 1).

A PyConv applies several convolutions to the same input in parallel, one per pyramid *level*: level i
has kernel ``kernels[i]`` and ``groups[i]`` groups (larger kernels, more groups, so each level costs about
the same), same padding ``k // 2`` and no bias. The level outputs are concatenated on channels.

``split`` gives the relative output width of each level. ``"pyconvresnet"`` is the split of the PyConv
paper's PyConvResNet (4 levels: 1/4 each; 3 levels: 1/4, 1/4, 1/2; 2 levels: 1/2 each). ``"pyramid"``
gives the large kernels more channels (4 levels: 1/8, 1/8, 1/4, 1/2, the split of the PyConvU-Net
code; 3 levels: 1/4, 1/4, 1/2; 2 levels: 1/2 each). An explicit tuple of integer weights also works.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

KERNELS: tuple[int, ...] = (3, 5, 7, 9)
GROUPS: tuple[int, ...] = (1, 4, 8, 16)

SPLITS: dict[str, dict[int, tuple[int, ...]]] = {
    "pyconvresnet": {1: (1,), 2: (1, 1), 3: (1, 1, 2), 4: (1, 1, 1, 1)},
    "pyramid": {1: (1,), 2: (1, 1), 3: (1, 1, 2), 4: (1, 1, 2, 4)},
}

Split = str | Sequence[int]


def level_channels(out_channels: int, levels: int, split: Split = "pyconvresnet") -> tuple[int, ...]:
    """Output channels of each pyramid level: ``out_channels`` divided by the ``split`` weights."""
    if isinstance(split, str):
        if split not in SPLITS:
            raise ValueError(f"unknown PyConv split {split!r}; use one of {sorted(SPLITS)} or a tuple of weights")
        weights = SPLITS[split][levels]
    else:
        weights = tuple(split)
    if len(weights) != levels or any(w < 1 for w in weights):
        raise ValueError(f"PyConv split {tuple(weights)} must give one positive weight per level ({levels})")
    total = sum(weights)
    if out_channels % total:
        raise ValueError(f"PyConv out_channels={out_channels} is not divisible by the split {weights} (sum {total})")
    return tuple(out_channels // total * w for w in weights)


class PyConv2d(nn.Module):
    """Pyramidal convolution: ``levels`` parallel grouped convolutions, outputs concatenated.

    Args:
        in_channels: input channels; must be divisible by every level's groups.
        out_channels: total output channels, split over the levels by ``split``.
        levels: pyramid levels (1..len(kernels)); level i uses ``kernels[i]`` and ``groups[i]``.
        split: ``"pyconvresnet"``, ``"pyramid"`` or a tuple of per-level weights (see module doc).
        kernels, groups: per-level kernel sizes and group counts (Duta et al. 2020: 3/5/7/9, 1/4/8/16).
        stride: stride of every level.

    Raises:
        ValueError: a level's groups do not divide its input or output channels, or the split does not
            divide ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        levels: int = 4,
        *,
        split: Split = "pyconvresnet",
        kernels: Sequence[int] = KERNELS,
        groups: Sequence[int] = GROUPS,
        stride: int = 1,
    ) -> None:
        super().__init__()
        if len(kernels) != len(groups):
            raise ValueError(f"PyConv needs one group count per kernel, got {tuple(kernels)} and {tuple(groups)}")
        if not 1 <= levels <= len(kernels):
            raise ValueError(f"PyConv levels must be in 1..{len(kernels)}, got {levels}")
        specs = list(zip(kernels[:levels], groups[:levels], level_channels(out_channels, levels, split), strict=True))
        for k, g, c in specs:
            if in_channels % g or c % g:
                raise ValueError(
                    f"PyConv level with kernel {k} has {g} groups, which must divide its input ({in_channels}) "
                    f"and output ({c}) channels; use fewer levels, wider layers or another split"
                )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.levels = nn.ModuleList(
            nn.Conv2d(in_channels, c, k, stride, padding=k // 2, groups=g, bias=False) for k, g, c in specs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([level(x) for level in self.levels], dim=1)
