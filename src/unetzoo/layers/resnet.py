"""ResNet encoder (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Sec. 3-4, Table 1).

Written from the paper (torchvision layout, so parameter counts match it; no pretrained weights): a 7x7
stride-2 stem conv + BN + ReLU, a 3x3 stride-2 max-pool, then four stages of ``BasicBlock`` with widths
64, 128, 256, 512, the first block of stages 2-4 striding by 2 with a 1x1 projection shortcut (option B).
Convolutions have no bias (each is followed by BN). The classifier (avg-pool + FC) is not built.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from unetzoo.layers.conv import ConvNormAct


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN units with an identity (or 1x1 projection) shortcut, ReLU after the sum (Fig. 2)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(in_channels, out_channels, 3, stride=stride, bias=False)
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, bias=False, act=None)
        needs_projection = stride != 1 or in_channels != out_channels
        self.shortcut = (
            ConvNormAct(in_channels, out_channels, 1, stride=stride, bias=False, act=None)
            if needs_projection
            else nn.Identity()
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """ResNet trunk returning the four stage outputs (strides 4, 8, 16, 32).

    Args:
        in_channels: input channels of the stem.
        blocks: ``BasicBlock`` count per stage; (3, 4, 6, 3) is ResNet-34, (2, 2, 2, 2) ResNet-18.
        widths: output channels per stage.
    """

    def __init__(
        self,
        in_channels: int = 3,
        blocks: Sequence[int] = (3, 4, 6, 3),
        widths: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        if len(blocks) != len(widths):
            raise ValueError(f"blocks {tuple(blocks)} and widths {tuple(widths)} differ in length")
        self.out_channels = tuple(widths)
        self.stem = nn.Sequential(
            ConvNormAct(in_channels, widths[0], 7, stride=2, bias=False),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.stages = nn.ModuleList()
        prev = widths[0]
        for i, (count, width) in enumerate(zip(blocks, widths, strict=True)):
            first = BasicBlock(prev, width, stride=1 if i == 0 else 2)
            self.stages.append(nn.Sequential(first, *(BasicBlock(width, width) for _ in range(count - 1))))
            prev = width

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features
