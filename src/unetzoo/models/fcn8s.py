"""FCN-8s (Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015,
Sec. 4.2 / Fig. 3), in the form used as a baseline in the PyConvU-Net comparison (UNET-ZOO, 18.64M params).

Encoder: the 13 3x3 conv + ReLU layers of VGG16 (Simonyan & Zisserman 2015, Table 1, config D) in five
max-pooled stages; the fully connected layers are dropped and no pretrained weights are loaded.
Decoder: five 3x3 stride-2 transposed convs (512, 256, 128, 64, 32), each followed by ReLU and BN; the
pool4 and pool3 features are added before the BN of the first two (the "8s" skips). Head: 1x1 conv
to ``classes`` (logits). Unlike the paper's bilinear-initialised 32x/2x upsamplings, every stage is a
learned 2x transposed conv, as in the comparison baseline.
"""

from __future__ import annotations

import torch
from torch import nn

from unetzoo.layers.conv import ConvNormAct, no_norm
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model

VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
DECODER_WIDTHS = (512, 256, 128, 64, 32)
SKIP_STAGES = (3, 2)  # pool4 and pool3 are added after the first and second transposed convs


def vgg16_stage(in_channels: int, widths: tuple[int, ...]) -> nn.Sequential:
    """3x3 conv + ReLU layers (no norm, with bias) followed by a 2x2 max-pool."""
    convs = []
    for width in widths:
        convs.append(ConvNormAct(in_channels, width, 3, norm=no_norm))
        in_channels = width
    return nn.Sequential(*convs, nn.MaxPool2d(2))


class FCNDecoderStage(nn.Module):
    """3x3 stride-2 transposed conv (exact x2) -> ReLU -> [+ skip] -> BN."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.relu(self.deconv(x))
        return self.bn(x if skip is None else x + skip)


@register_model(
    "fcn8s",
    paper="Long et al. 2015, FCN-8s (VGG16 features + 5 deconvs, UNET-ZOO baseline)",
    presets={"paper": {"in_channels": 3, "classes": 1}},
    default_preset="paper",
)
class FCN8s(SegmentationModel):
    """FCN-8s with a VGG16 encoder and a five-stage transposed-conv decoder.

    Args:
        in_channels: input channels.
        classes: output channels (logits, no sigmoid).
    """

    def __init__(self, in_channels: int = 3, classes: int = 1) -> None:
        super().__init__(in_channels, classes, input_multiple=2 ** len(VGG16_STAGES))
        ins = [in_channels, *(stage[-1] for stage in VGG16_STAGES[:-1])]
        self.encoder = nn.ModuleList(vgg16_stage(c, widths) for c, widths in zip(ins, VGG16_STAGES, strict=True))
        ins = [VGG16_STAGES[-1][-1], *DECODER_WIDTHS[:-1]]
        self.decoder = nn.ModuleList(FCNDecoderStage(c, o) for c, o in zip(ins, DECODER_WIDTHS, strict=True))
        self.head = nn.Conv2d(DECODER_WIDTHS[-1], classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        pools = []
        for stage in self.encoder:
            x = stage(x)
            pools.append(x)
        skips = [pools[i] for i in SKIP_STAGES]
        for i, stage in enumerate(self.decoder):
            x = stage(x, skips[i]) if i < len(skips) else stage(x)
        return self.head(x)
