"""U-Net (Ronneberger et al., MICCAI 2015) and the wide U-Net baseline, as one configurable class.

Presets of ``unet``:

* ``original`` (default): the paper's net (Sec. 2, Fig. 1): 1 -> 2 channels, widths 64..1024, valid 3x3
  convolutions, no normalisation, 2x2 up-convolutions, centre-cropped skips, dropout at the end of the
  contracting path, 1x1 head. 31,030,658 params.
* ``same``: the same net with same-padded convolutions.
* ``pyconv-paper``: the UNET-ZOO U-Net of the PyConvU-Net comparison (32..512, BN, up-conv), 7,765,985.
* ``unetsharp-paper``: the U-Net of the UNet# comparison (32..512, BN, bilinear x2 without up-conv, so a
  decoder block takes w_{i+1} + w_i channels), 7,852,545.

``unet_wide`` is the wide U-Net baseline of UNet++ (Zhou et al. 2018: a U-Net widened to UNet++'s parameter
count) at the widths 35..560 of the UNet# comparison, otherwise as ``unetsharp-paper``: 9,392,916 params.

**Any input size with valid convolutions (overlap-tile, Sec. 2, Fig. 2).** Each DoubleConv loses 2 px
per side, so with depth d (d = 4 poolings) the valid tiles are

    input  = 2^d * m + 4 * (2^(d+1) - 1)    (d = 4: 16m + 124)
    output = 2^d * m - 4 * (2^d - 1)        (d = 4: 16m - 60)

for a bottleneck of m x m px (m = 28: 572 -> 388, the paper's Fig. 1). The output sees the input shrunk
by ``context`` px per side (92 for d = 4). ``forward`` mirror-pads an H x W image to the smallest tile
whose output covers it (the missing context is mirrored, as in the paper) and crops the logits to H x W.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from unetzoo.layers.conv import norm_factory
from unetzoo.layers.unet_blocks import Encoder, UpBlock, expand
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model

_SHRINK = 4  # px lost per DoubleConv of two valid 3x3 convolutions (2 per side)

_ORIGINAL = {
    "in_channels": 1,
    "classes": 2,
    "widths": (64, 128, 256, 512, 1024),
    "padding": "valid",
    "norm": "none",
    "up": "transpose",
    "dropout": 0.5,
}
_SMALL_BN = {
    "in_channels": 3,
    "classes": 1,
    "widths": (32, 64, 128, 256, 512),
    "padding": "same",
    "norm": "batch",
    "dropout": 0.0,
}


@register_model(
    "unet_wide",
    paper="Zhou et al., DLMIA 2018 (wide U-Net baseline); widths 35..560 of Qian et al. 2022 (UNet#)",
    presets={"unetsharp-paper": {**_SMALL_BN, "widths": (35, 70, 140, 280, 560), "up": "bilinear"}},
    default_preset="unetsharp-paper",
)
@register_model(
    "unet",
    paper="Ronneberger et al., MICCAI 2015 (U-Net, arXiv:1505.04597)",
    presets={
        "original": _ORIGINAL,
        "same": {**_ORIGINAL, "padding": "same"},
        "pyconv-paper": {**_SMALL_BN, "up": "transpose"},
        "unetsharp-paper": {**_SMALL_BN, "up": "bilinear"},
    },
    default_preset="original",
)
class UNet(SegmentationModel):
    """U-Net: contracting path, expanding path with concatenated skips, 1x1 head; outputs logits.

    Args:
        in_channels, classes: input channels and output logit channels.
        widths: channels per level, shallowest first; ``len(widths) - 1`` poolings.
        padding: ``'valid'`` (the paper; any-size input via overlap-tile) or ``'same'``.
        norm: ``'none'`` (the paper) or ``'batch'`` (and ``'group'``), after each 3x3 conv.
        up: ``'transpose'`` (2x2 up-conv halving the channels, the paper) or ``'bilinear'`` (no up-conv).
        dropout: rate of the dropout on the bottleneck output. The paper puts dropout "at the end of the
            contracting path" (Sec. 3.1) without a rate; the ``original`` preset uses 0.5.
    """

    def __init__(
        self,
        in_channels: int = 1,
        classes: int = 2,
        *,
        widths: tuple[int, ...] | list[int] = (64, 128, 256, 512, 1024),
        padding: str = "valid",
        norm: str = "none",
        up: str = "transpose",
        dropout: float = 0.5,
    ) -> None:
        if padding not in ("valid", "same"):
            raise ValueError(f"unknown padding {padding!r}; use 'valid' or 'same'")
        if len(widths) < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        depth = len(widths) - 1
        super().__init__(in_channels, classes, input_multiple=2**depth)
        self.depth = depth
        self.padding = padding
        make_norm = norm_factory(norm)
        self.encoder = Encoder(in_channels, widths, padding=padding, norm=make_norm)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.decoder = nn.ModuleList(
            UpBlock(widths[i + 1], widths[i], widths[i], up=up, padding=padding, norm=make_norm)
            for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], classes, 1)

    # -- overlap-tile size handling (valid convolutions) ----------------------------------------------
    @property
    def context(self) -> int:
        """Pixels per side by which a valid-convolution output is smaller than its input (92 at depth 4)."""
        return 0 if self.padding == "same" else _SHRINK * (3 * 2**self.depth - 2) // 2

    def overlap_tile(self, size: int) -> tuple[int, int]:
        """(input, output) side of the smallest valid tile whose output covers ``size`` px (valid padding)."""
        scale = 2**self.depth
        m = max(1, math.ceil((size + _SHRINK * (scale - 1)) / scale))
        return scale * m + _SHRINK * (2 * scale - 1), scale * m - _SHRINK * (scale - 1)

    def _tile_padding(self, size: int) -> tuple[int, int]:
        tile_in, tile_out = self.overlap_tile(size)
        before = self.context + (tile_out - size) // 2
        return before, tile_in - size - before

    def padding_for(self, height: int, width: int) -> tuple[int, int, int, int]:
        if self.padding == "same":
            return super().padding_for(height, width)
        return (*self._tile_padding(height), *self._tile_padding(width))

    def output_offset(self, top: int, left: int) -> tuple[int, int]:
        return top - self.context, left - self.context

    # -- network -------------------------------------------------------------------------------------
    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = self.encoder(x)
        return self.head(expand(self.decoder, self.dropout(x), skips))
