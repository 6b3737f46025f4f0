"""UNet++ (Zhou et al., DLMIA 2018, arXiv:1807.10165) in its PyTorch form.

Nodes X^{i,j} (Sec. 2, Fig. 1a, Eq. 1): X^{i,0} is the U-Net contracting path; for j >= 1

    X^{i,j} = H(cat[X^{i,0}, ..., X^{i,j-1}, U(X^{i+1,j-1})])

with H a DoubleConv ("VGGBlock": conv3x3 + BN + ReLU, twice) at width w_i and U a parameter-free x2
bilinear upsampling (align_corners=True): the PyTorch form has no up-convolution, unlike the original
Keras code. Widths 32..512, 1x1 head on X^{0,4}: 9,163,329 params at 3 -> 1.

Deep supervision (Sec. 2, Fig. 1c): 1x1 heads on X^{0,1}..X^{0,4} (+99 params at 3 -> 1). In training the
model returns the four full-resolution outputs (X^{0,4}'s last); in eval only X^{0,4}'s output, which is
always produced by ``head`` so that weights load with or without deep supervision.
"""

from __future__ import annotations

import torch
from torch import nn

from unetzoo.layers.conv import norm_factory
from unetzoo.layers.unet_blocks import Encoder, UpBlock
from unetzoo.models.base import SegmentationModel, Supports
from unetzoo.models.registry import register_model

_PYTORCH = {"in_channels": 3, "classes": 1, "widths": (32, 64, 128, 256, 512), "norm": "batch"}


@register_model(
    "unetpp",
    paper="Zhou et al., DLMIA 2018 (UNet++, arXiv:1807.10165)",
    presets={"pytorch": _PYTORCH, "pytorch-ds": {**_PYTORCH, "deep_supervision": True}},
    default_preset="pytorch",
)
class UNetPlusPlus(SegmentationModel):
    """UNet++ with dense nested skips; outputs logits.

    Args:
        in_channels, classes: input channels and output logit channels.
        widths: channels per level, shallowest first; ``len(widths) - 1`` poolings.
        norm: ``'batch'`` (the PyTorch form), ``'group'`` or ``'none'``.
        deep_supervision: add the 1x1 heads on X^{0,1}..X^{0,depth-1}.
    """

    supports = Supports(deep_supervision=True)

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        *,
        widths: tuple[int, ...] | list[int] = (32, 64, 128, 256, 512),
        norm: str = "batch",
        deep_supervision: bool = False,
    ) -> None:
        if len(widths) < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        depth = len(widths) - 1
        super().__init__(in_channels, classes, input_multiple=2**depth, deep_supervision=deep_supervision)
        make_norm = norm_factory(norm)
        self.encoder = Encoder(in_channels, widths, norm=make_norm)
        # nodes[j - 1][i] is X^{i,j}
        self.nodes = nn.ModuleList(
            nn.ModuleList(
                UpBlock(widths[i + 1], j * widths[i], widths[i], up="bilinear", norm=make_norm)
                for i in range(depth - j + 1)
            )
            for j in range(1, depth + 1)
        )
        self.head = nn.Conv2d(widths[0], classes, 1)
        self.side_heads = nn.ModuleList(
            nn.Conv2d(widths[0], classes, 1) for _ in range(depth - 1 if deep_supervision else 0)
        )

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        grid = [[feature] for feature in self.encoder(x)]  # grid[i][j] is X^{i,j}
        for j, column in enumerate(self.nodes, start=1):
            for i, node in enumerate(column):
                grid[i].append(node(grid[i + 1][j - 1], *grid[i]))
        final = self.head(grid[0][-1])
        if not self.wants_side_outputs():
            return final
        return [*(head(t) for head, t in zip(self.side_heads, grid[0][1:-1], strict=True)), final]
