"""U-Lite (Dinh, Nguyen, Tran, Pham, "1M parameters are enough? A lightweight CNN-based model for medical image
segmentation", APSIPA ASC 2023, arXiv 2306.16103): an 878K-parameter U-Net built on axial depthwise convolutions.

Stem conv7x7 -> 16; five encoder blocks (16 -> 512) with "Axial Depthwise Convolutions with kernels 7x7"; a
bottleneck with "several Axial Dilated Depthwise Convolutions with filters 3x3" (three branches, dilations
1, 2, 3); five decoder blocks (nearest upsampling, concat skip), again axial 7x7; a 1x1 head giving logits
(the sigmoid lives in the loss and metrics). Quotes are the abstract's, the only part of the paper in the
project's copy; the order of the layers inside each block follows the authors' code (duong-db/U-Lite,
``models/ULite.py``), reimplemented in :mod:`unetzoo.layers.axial`. 878,417 parameters at in 3 / classes 1
(the abstract's "878K").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from unetzoo.layers.axial import AxialBottleneck, AxialDecoderBlock, AxialEncoderBlock
from unetzoo.layers.unet_blocks import expand
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model

WIDTHS = (16, 32, 64, 128, 256, 512)


@register_model(
    "ulite",
    paper="Dinh et al. 2023, U-Lite: 1M parameters are enough? (APSIPA ASC, arXiv 2306.16103)",
    presets={"paper": {"in_channels": 3, "classes": 1}},
    default_preset="paper",
)
class ULite(SegmentationModel):
    """U-Lite. ``forward`` accepts any H, W >= 16 (mirror padding to a multiple of 32, at least 64).

    Args:
        in_channels, classes: input channels and output logit channels.
        widths: stem width, then the width after each encoder block, shallowest first; ``len(widths) - 1``
            encoder/decoder blocks (poolings). The bottleneck's four branches need ``widths[-1] % 4 == 0``.
    """

    def __init__(self, in_channels: int = 3, classes: int = 1, *, widths: Sequence[int] = WIDTHS) -> None:
        widths = tuple(widths)
        if len(widths) < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        super().__init__(in_channels, classes, input_multiple=2 ** (len(widths) - 1))
        self.stem = nn.Conv2d(in_channels, widths[0], 7, padding=3)
        pairs = list(pairwise(widths))
        self.encoder = nn.ModuleList(AxialEncoderBlock(a, b) for a, b in pairs)
        self.bottleneck = AxialBottleneck(widths[-1])
        self.decoder = nn.ModuleList(AxialDecoderBlock(b, a) for a, b in reversed(pairs))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for block in self.encoder:
            x, skip = block(x)
            skips.append(skip)
        return self.head(expand(self.decoder, self.bottleneck(x), skips))
