"""SD-UNet (Gadosey et al., "SD-UNet: Stripping down U-Net for Segmentation of Biomedical Images on
Platforms with Low Computational Budgets", Diagnostics 10(2):110, 2020).

Sec. 3.2: "Except for the first convolution layer which has a standard convolution, all other convolution
layers are made of depthwise separable convolution layers". An SD-UNet block is "two depthwise separable
convolution layers, two activation layers, and one GN layer" (Fig. 5); "All depthwise (3 x 3) convolution
layers are weight standardized" (Sec. 3.1), with W^ = (W - mu) / (sigma + eps) (Sec. 2.3, see
:mod:`unetzoo.layers.separable`).

* Encoder Block1: standard 3x3 conv, ReLU, GN. Blocks 2-3: SD block, max-pool. Block4: SD block, dropout,
  max-pool. Block5 (the bottleneck): see ``bottleneck`` below.
* Decoder Block1: a depthwise-separable up-convolution concatenated with Block4's dropout output; Blocks 2-4:
  an SD block and a depthwise-separable up-convolution, concatenated with the encoder block; Block 5: "Two
  SD-UNet blocks and two depthwise separable layers with the last one as the final prediction layer".

Left open by the text, taken from the U-Net it strips down (zhixuhao/unet, the Keras U-Net whose 31.0M
parameters divided by the abstract's "8x fewer parameters" give Table 1's 3.9M): widths 64..1024, same
padding, dropout 0.5 (Block4 and the bottleneck), up step = nearest upsampling x2 + 2x2 conv halving the
channels + ReLU, concatenation order [skip, up], a 2-channel layer before the prediction layer; layer order
conv -> ReLU -> GN, 32 groups (Wu & He's default), Keras "same" padding of the 2x2 up-conv. No author code
exists.

3,903,237 parameters at in 1 / classes 1 (Table 1: 3.9M). Three places keep the skeleton's form; each reading
as written is an option, all three together the preset ``literal`` (2,851,991 params; docs/models.md says why):
encoder Block5, "A final depthwise separable layer with a dropout layer" (``bottleneck="layer"``: 2,842,373,
27% under 3.9M), and decoder Block 5's two SD blocks (``last_blocks=2``: 3,912,837) and depthwise-separable
prediction layer (``prediction="separable"``: +18), which hold 3.9M but measurably worsen INT8 export and
layout agreement.

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
BOTTLENECKS = ("block", "layer")
PREDICTIONS = ("conv", "separable")


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
    presets={
        "paper": {"in_channels": 1, "classes": 1},
        "literal": {"in_channels": 1, "classes": 1, "bottleneck": "layer", "last_blocks": 2, "prediction": "separable"},
    },
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
        bottleneck: ``"block"`` (default): an SD block with dropout, the skeleton's conv5 pair, for Table 1's
            3.9M; ``"layer"``: encoder Block5 as written, "A final depthwise separable layer with a dropout
            layer" (-1,060,864 params).
        last_blocks: SD blocks in decoder Block 5: 1 (default, the skeleton's), or 2 as written.
        prediction: the final prediction layer: ``"conv"`` (default, the skeleton's plain 1x1 conv), or
            ``"separable"`` as written (a WS depthwise-separable 3x3 conv to ``classes``).
    """

    def __init__(
        self,
        in_channels: int = 1,
        classes: int = 1,
        weight_standardization: bool = True,
        *,
        widths: Sequence[int] = WIDTHS,
        bottleneck: str = "block",
        last_blocks: int = 1,
        prediction: str = "conv",
    ) -> None:
        widths = tuple(widths)
        if len(widths) < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        if bottleneck not in BOTTLENECKS or prediction not in PREDICTIONS or last_blocks not in (1, 2):
            raise ValueError(
                f"bottleneck must be one of {BOTTLENECKS}, prediction one of {PREDICTIONS}, last_blocks 1 or 2; "
                f"got {bottleneck!r}, {prediction!r}, {last_blocks!r}"
            )
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
        if bottleneck == "layer":  # Block5: "A final depthwise separable layer with a dropout layer"
            self.encoder[-1] = nn.Sequential(ws_separable(*pairs[-1], ws=ws), nn.Dropout(DROPOUT))
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList(UpConv(b, a, ws) for a, b in reversed(pairs))
        self.decoder = nn.ModuleList(SDBlock(2 * a, a, ws=ws) for a, _ in reversed(pairs))
        # decoder Block 5: "Two SD-UNet blocks and two depthwise separable layers with the last one as the final
        # prediction layer": decoder[-1], then tail, then head (DS conv -> 2 + ReLU, then the prediction layer)
        self.tail = SDBlock(first, first, ws=ws) if last_blocks == 2 else nn.Identity()
        last = (
            nn.Conv2d(2, classes, 1)
            if prediction == "conv"
            else SeparableConv2d(2, classes, 3, weight_standardization=ws)
        )
        self.head = nn.Sequential(ws_separable(first, 2, ws=ws), last)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for block in self.encoder:
            skips.append(x)
            x = block(self.pool(x))
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([skip, up(x)], dim=1))  # zhixuhao order: [skip, up]
        return self.head(self.tail(x))

    def fold_weight_standardization(self) -> SDUNet:
        """An equivalent copy whose depthwise convs are plain ``nn.Conv2d`` with standardised weights."""
        return cast(SDUNet, fold_weight_standardization(self))
