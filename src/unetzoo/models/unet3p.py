"""UNet 3+ (Huang et al., "UNet 3+: A Full-Scale Connected UNet for Medical Image Segmentation", ICASSP 2020).

* Encoder (Sec. 2.1): five conv-BN-ReLU x2 units, 64..1024 channels, 2x2 max-pooling between them.
* Full-scale skip connections (Sec. 2.1, Fig. 2): every decoder stage X_De^d fuses all five scales. Shallower
  encoder maps are max-pooled to its size, the same-level encoder map is taken as is, and deeper decoder maps
  (and the bottom encoder map X_En^5) are bilinearly upsampled; each branch is then a 3x3 conv to 64 channels
  + BN + ReLU, the 5 x 64 = 320 channels are concatenated and fused by a 3x3 conv + BN + ReLU.
* Full-scale deep supervision (Sec. 2.2): extra 3x3 heads on X_De^2..X_De^4 and X_En^5, upsampled to full
  resolution.
* Classification-guided module (Sec. 2.3, Fig. 3) on X_En^5, trained by its own BCE term: see
  :mod:`unetzoo.layers.cgm`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from unetzoo.layers.cgm import ClassificationGuidance
from unetzoo.layers.conv import ConvNormAct, upsample_like
from unetzoo.layers.unet_blocks import Encoder
from unetzoo.models.base import Output, SegmentationModel, Supports
from unetzoo.models.registry import register_model

ENCODER_WIDTHS = (64, 128, 256, 512, 1024)
CAT_CHANNELS = 64


class FullScaleStage(nn.Module):
    """Decoder stage X_De^d of UNet 3+ (Sec. 2.1, Eq. 1, Fig. 2): five resized, 64-channel branches, fused.

    Args:
        level: the stage's scale, 1 (full resolution) .. 4.
        source_channels: channels of the five sources, ordered from scale 1 to scale 5.
    """

    def __init__(self, level: int, source_channels: Sequence[int]) -> None:
        super().__init__()
        self.level = level
        # sources shallower than the stage are max-pooled by 2^(d - s), ceil_mode as in the reference code
        self.pools = nn.ModuleList(
            nn.MaxPool2d(2 ** (level - s), 2 ** (level - s), ceil_mode=True) for s in range(1, level)
        )
        self.branches = nn.ModuleList(ConvNormAct(c, CAT_CHANNELS, 3) for c in source_channels)
        fused = CAT_CHANNELS * len(source_channels)
        self.fuse = ConvNormAct(fused, fused, 3)

    def forward(self, sources: Sequence[torch.Tensor]) -> torch.Tensor:
        """``sources``: one map per scale 1..5; scale ``level`` sets the output size."""
        size = sources[self.level - 1].shape[-2:]
        resized = [pool(s) for pool, s in zip(self.pools, sources, strict=False)]
        resized.append(sources[self.level - 1])
        resized += [upsample_like(s, size) for s in sources[self.level :]]
        return self.fuse(torch.cat([branch(s) for branch, s in zip(self.branches, resized, strict=True)], 1))


@register_model(
    "unet3p",
    paper="Huang et al. 2020, UNet 3+ (ICASSP)",
    presets={
        "base": {"in_channels": 3, "classes": 1},
        "ds_cgm": {"in_channels": 3, "classes": 1, "deep_supervision": True, "cgm": True},
    },
    default_preset="base",
)
class UNet3Plus(SegmentationModel):
    """UNet 3+ with full-scale skips, optional full-scale deep supervision and CGM.

    26,971,777 params at 3 -> 1; 26,991,687 with deep supervision and CGM.

    Args:
        in_channels, classes: input channels and output logit channels.
        widths: encoder widths X_En^1..X_En^D, shallowest first (the paper: 64..1024, D = 5); every decoder
            stage has ``CAT_CHANNELS * D`` channels.
        deep_supervision: add the 3x3 side heads on X_De^2..X_De^{D-1} and X_En^D (Sec. 2.2).
        cgm: add the classification-guided module on X_En^D (Sec. 2.3).

    Outputs (logits): eval mode, or training without deep supervision, gives the final (N, classes, H, W)
    map from X_De^1. Training with ``deep_supervision=True`` gives the list
    ``[from X_De^2, X_De^3, X_De^4, X_En^5, final]`` (the reference code's order, final moved last), each
    bilinearly upsampled to full resolution (Sec. 2.2).

    With ``cgm=True`` every forward scores X_En^D (``last_class_logits``, (N, 2), pre-sigmoid, column 1 =
    "object present"), and training adds the CGM's BCE to the loss (:func:`unetzoo.losses.training_losses`).
    In eval mode, once that term has trained the CGM, the logits of images classified "no object" are
    replaced by a large negative constant (empty mask); see :mod:`unetzoo.layers.cgm`.
    """

    supports = Supports(deep_supervision=True, classification_guidance=True)

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        *,
        widths: Sequence[int] = ENCODER_WIDTHS,
        deep_supervision: bool = False,
        cgm: bool = False,
    ) -> None:
        widths = tuple(widths)
        depth = len(widths)
        if depth < 2:
            raise ValueError(f"need at least two widths, got {widths}")
        super().__init__(in_channels, classes, input_multiple=2 ** (depth - 1), deep_supervision=deep_supervision)
        self.encoder = Encoder(in_channels, widths)
        up_channels = CAT_CHANNELS * depth
        # stage d reads encoder maps 1..d, decoder maps d+1..D-1 and the bottom encoder map X_En^D
        self.decoder = nn.ModuleList(
            FullScaleStage(d, [*widths[:d], *[up_channels] * (depth - 1 - d), widths[-1]])
            for d in range(depth - 1, 0, -1)
        )
        self.head = nn.Conv2d(up_channels, classes, 3, padding=1)
        self.side_heads = (
            nn.ModuleList(nn.Conv2d(c, classes, 3, padding=1) for c in [up_channels] * (depth - 2) + [widths[-1]])
            if deep_supervision
            else None
        )
        self.cgm = ClassificationGuidance(widths[-1]) if cgm else None

    def forward_padded(self, x: torch.Tensor) -> Output:
        enc = self.encoder(x)  # X_En^1..D
        dec: list[torch.Tensor] = []  # X_De^{D-1}, ..., X_De^1
        for stage in self.decoder:
            dec.append(stage([*enc[: stage.level], *reversed(dec), enc[-1]]))
        final = self.head(dec[-1])
        if self.cgm is not None:
            final = self.cgm.guide("final", enc[-1], final)
        if not self.wants_side_outputs():
            return final
        assert self.side_heads is not None
        size = x.shape[-2:]
        sides = [*reversed(dec[:-1]), enc[-1]]  # X_De^2, ..., X_De^{D-1}, X_En^D
        return [*(upsample_like(h(s), size) for h, s in zip(self.side_heads, sides, strict=True)), final]
