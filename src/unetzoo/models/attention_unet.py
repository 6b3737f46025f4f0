"""Attention U-Net (Oktay et al., "Attention U-Net: Learning Where to Look for the Pancreas", MIDL 2018).

This is the 2D baseline that comparison tables use (e.g. the PyConvU-Net table, 34.88M params), not the
paper's 3D network: a U-Net with widths 64..1024 and BatchNorm, where each skip connection passes through
an additive attention gate (Sec. 2, Fig. 1-2; gate in :mod:`unetzoo.layers.attention`) before being
concatenated with the upsampled decoder features.

Decoder stage: nearest x2 upsampling + conv3x3-BN-ReLU halving the channels, gate the skip with the
upsampled features, concatenate [gated skip, up], two conv3x3-BN-ReLU. Head: 1x1 conv to logits.

Known deviation from the paper: the gating signal is the decoder feature map *after* upsampling (same
resolution as the skip), whereas the paper gates with the coarser map and resamples the coefficients
(Fig. 2). We keep the deviation because it is what the published 2D parameter counts measure.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from unetzoo.layers.attention import AttentionGate
from unetzoo.layers.conv import ConvNormAct, DoubleConv
from unetzoo.layers.unet_blocks import contract, expand
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model


class _AttentionUp(nn.Module):
    """One decoder stage: upsample + conv (halving), gate the skip, concat, DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), ConvNormAct(in_channels, out_channels))
        self.gate = AttentionGate(out_channels, out_channels, out_channels // 2)
        self.conv = DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        return self.conv(torch.cat([self.gate(up, skip), up], dim=1))


@register_model(
    "attention_unet",
    paper="Oktay et al. 2018, Attention U-Net (2D baseline, 64..1024)",
    presets={"paper": {"in_channels": 3, "classes": 1}},
    default_preset="paper",
)
class AttentionUNet(SegmentationModel):
    """2D Attention U-Net.

    Args:
        in_channels: input channels.
        classes: output channels (logits, no sigmoid).
        widths: encoder widths per level, shallow to deep; ``len(widths) - 1`` poolings.
    """

    def __init__(
        self, in_channels: int = 3, classes: int = 1, *, widths: Sequence[int] = (64, 128, 256, 512, 1024)
    ) -> None:
        if len(widths) < 2:
            raise ValueError(f"widths needs at least two levels, got {tuple(widths)}")
        super().__init__(in_channels, classes, input_multiple=2 ** (len(widths) - 1))
        ins = [in_channels, *widths[:-1]]
        self.encoder = nn.ModuleList(DoubleConv(c_in, c_out) for c_in, c_out in zip(ins, widths, strict=True))
        self.pool = nn.MaxPool2d(2)
        self.decoder = nn.ModuleList(
            _AttentionUp(deep, shallow) for deep, shallow in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = contract(self.encoder, self.pool, x)
        return self.head(expand(self.decoder, x, skips))
