"""SD-UNet (Gadosey et al., "SD-UNet: Stripping down U-Net for Segmentation of Biomedical Images on
Platforms with Low Computational Budgets", Diagnostics 10(2):110, 2020).

The zhixuhao/unet skeleton (widths 64..1024, same padding, dropout 0.5 at the two deepest levels,
up step = upsample x2 + 2x2 conv + ReLU, head conv3x3 -> 2 + ReLU then 1x1) with the paper's changes:
every convolution but the first is depthwise-separable, the depthwise kernels are weight-standardised,
and each block ends with one GroupNorm. See docs/models-spec.md Sec. 3 for what is inferred (no author
code exists): layer order conv -> ReLU -> GN, 32 groups, Keras "same" padding of the 2x2 up-conv.
3,903,237 parameters at in 1 / classes 1.

The paper's "7.8M FLOPs" is 2 x params (a TF profiler artefact); the real cost is about 30 GMACs at
1 x 512 x 512.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import cast

import torch
from torch import nn

from unetzoo.layers.conv import group_norm
from unetzoo.layers.separable import SeparableConv2d, fold_weight_standardization
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model

WIDTHS = (64, 128, 256, 512, 1024)
GN_GROUPS = 32
DROPOUT = 0.5
DROPOUT_LEVELS = 2  # encoder Block4 and the bottleneck (zhixuhao drop4, drop5)


def ws_separable(in_channels: int, out_channels: int, kernel_size: int = 3, ws: bool = True) -> nn.Sequential:
    """Depthwise-separable conv with weight-standardised depthwise kernel (unless ``ws=False``), then ReLU."""
    return nn.Sequential(
        SeparableConv2d(in_channels, out_channels, kernel_size, weight_standardization=ws), nn.ReLU(inplace=True)
    )


class SDBlock(nn.Sequential):
    """The SD-UNet block: (WS-DSConv -> ReLU) x 2 -> GroupNorm, optionally followed by dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0, ws: bool = True) -> None:
        layers = [
            ws_separable(in_channels, out_channels, ws=ws),
            ws_separable(out_channels, out_channels, ws=ws),
            group_norm(GN_GROUPS)(out_channels),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UpConv(nn.Sequential):
    """Decoder up step: nearest upsampling x2 -> WS-DSConv 2x2 halving the channels -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, ws: bool = True) -> None:
        up = nn.Upsample(scale_factor=2.0, mode="nearest")
        super().__init__(up, *ws_separable(in_channels, out_channels, 2, ws=ws))


@register_model(
    "sd_unet",
    paper="Gadosey et al. 2020, SD-UNet: Stripping down U-Net (Diagnostics 10(2):110)",
    presets={"paper": {"in_channels": 1, "classes": 1}},
    default_preset="paper",
)
class SDUNet(SegmentationModel):
    """SD-UNet. ``forward`` accepts any H, W >= 16 (mirror padding to a multiple of 16); returns logits.

    Args:
        weight_standardization: the paper's WS of the depthwise kernels (default). ``False`` is an ablation,
            same parameters: WS over a depthwise kernel's 9 (or, in the up-convs, 4) taps makes every
            kernel zero-mean, a pure high-pass filter, so after the stem no layer passes a region's mean
            intensity; measured here, that slows early training several-fold (docs/benchmarks.md).
        widths: channels per level, shallowest first; ``len(widths) - 1`` poolings. GroupNorm(32) needs each
            a multiple of 32.
    """

    def __init__(
        self,
        in_channels: int = 1,
        classes: int = 1,
        weight_standardization: bool = True,
        *,
        widths: Sequence[int] = WIDTHS,
    ) -> None:
        widths = tuple(widths)
        if len(widths) < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        super().__init__(in_channels, classes, input_multiple=2 ** (len(widths) - 1))
        first, ws = widths[0], weight_standardization
        # Encoder Block1: the only standard convolution of the network.
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1), nn.ReLU(inplace=True), group_norm(GN_GROUPS)(first)
        )
        pairs = list(pairwise(widths))
        self.encoder = nn.ModuleList(
            SDBlock(a, b, DROPOUT if i >= len(pairs) - DROPOUT_LEVELS else 0.0, ws) for i, (a, b) in enumerate(pairs)
        )
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList(UpConv(b, a, ws) for a, b in reversed(pairs))
        self.decoder = nn.ModuleList(SDBlock(2 * a, a, ws=ws) for a, _ in reversed(pairs))
        self.head = nn.Sequential(ws_separable(first, 2, ws=ws), nn.Conv2d(2, classes, 1))

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for block in self.encoder:
            skips.append(x)
            x = block(self.pool(x))
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([skip, up(x)], dim=1))  # zhixuhao order: [skip, up]
        return self.head(x)

    def fold_weight_standardization(self) -> SDUNet:
        """An equivalent copy whose depthwise convs are plain ``nn.Conv2d`` with standardised weights."""
        return cast(SDUNet, fold_weight_standardization(self))
