"""ResNet34-UNet: a ResNet-34 encoder with a LinkNet decoder (Chaurasia & Culurciello, "LinkNet", VCIP 2017,
Sec. II / Fig. 1-3), the configuration of the UNET-ZOO baseline in the PyConvU-Net comparison (21.66M params).

Encoder: ResNet-34 (:class:`unetzoo.layers.resnet.ResNetEncoder`, written here, no pretrained weights).
Decoder block (Fig. 3): 1x1 conv to in/4 + BN + ReLU, 3x3 stride-2 transposed conv + BN + ReLU, 1x1 conv
to the output width + BN + ReLU; the result is *added* to the encoder feature of the same resolution.
Head: 4x4 stride-2 transposed conv to 32 + ReLU, 3x3 conv 32 + ReLU, 3x3 conv to ``classes`` (logits).
"""

from __future__ import annotations

import torch
from torch import nn

from unetzoo.layers.conv import ConvNormAct, no_norm
from unetzoo.layers.resnet import ResNetEncoder
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model


class LinkNetDecoderBlock(nn.Sequential):
    """1x1 (in -> in/4) -> 3x3 stride-2 transposed conv (x2 up) -> 1x1 (in/4 -> out), each + BN + ReLU (Fig. 3)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        mid = in_channels // 4
        super().__init__(
            ConvNormAct(in_channels, mid, 1),
            nn.ConvTranspose2d(mid, mid, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            ConvNormAct(mid, out_channels, 1),
        )


@register_model(
    "resnet34_unet",
    paper="ResNet-34 encoder (He 2016) + LinkNet decoder (Chaurasia 2017), UNET-ZOO baseline",
    presets={"paper": {"in_channels": 3, "classes": 1}},
    default_preset="paper",
)
class ResNet34UNet(SegmentationModel):
    """ResNet-34 encoder + LinkNet decoder with additive skips.

    Args:
        in_channels: input channels (the stem conv takes them directly).
        classes: output channels (logits, no sigmoid).
    """

    def __init__(self, in_channels: int = 3, classes: int = 1) -> None:
        super().__init__(in_channels, classes, input_multiple=32)
        self.encoder = ResNetEncoder(in_channels)
        widths = self.encoder.out_channels
        outs = [*widths[-2::-1], widths[0]]  # deepest first: 512 -> 256 -> 128 -> 64 -> 64
        self.decoder = nn.ModuleList(LinkNetDecoderBlock(c, o) for c, o in zip(widths[::-1], outs, strict=True))
        self.head = nn.Sequential(
            nn.ConvTranspose2d(widths[0], 32, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            ConvNormAct(32, 32, 3, norm=no_norm),
            nn.Conv2d(32, classes, 3, padding=1),
        )

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = self.encoder(x)
        for block in self.decoder:
            x = block(x)
            if skips:
                x = x + skips.pop()
        return self.head(x)
