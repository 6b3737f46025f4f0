"""PyConvU-Net (Li, Fan, Cai, "PyConvU-Net: a lightweight and multiscale network for biomedical image
segmentation", BMC Bioinformatics 22:14, 2021).

The paper's network is the UNET-ZOO U-Net (widths 32..512, BatchNorm, ConvTranspose 2x2 up-convs,
concatenated skips, 1x1 head) in which the 3x3 convolutions become pyramidal convolutions
(:class:`~unetzoo.layers.pyconv.PyConv2d`: kernels 3/5/7/9, groups 1/4/8/16, same padding). The model
returns logits; the paper's sigmoid lives in the loss and metrics.

Left open by the text, and configurable here:

* ``levels``: pyramid levels per depth. PyConvResNet (Duta et al. 2020, Sec. 3) uses 4/3/2/1 levels in
  its four stages, fewer where the maps are small; the decoder at a depth uses the encoder's levels.
* ``split``: how the output channels are shared among the levels (see :mod:`unetzoo.layers.pyconv`).
* ``expansion``: ``None`` replaces each 3x3 conv by PyConv-BN-ReLU; an integer ``e`` uses the
  PyConvResNet bottleneck unit instead (1x1 to ``out // e``, PyConv, 1x1 to ``out``, each BN-ReLU; no
  residual add, as in the authors' code).
* ``up``: ``"transpose"`` (UNET-ZOO ConvTranspose 2x2 to the skip's width ``w[d]``) or ``"bilinear"``
  (parameter-free x2, the decoder then sees ``w[d+1] + w[d]`` channels).
* ``up_width``: ``"skip"`` (default) gives each up-convolution the skip's width; ``"half"`` halves its input,
  as the paper's Background describes U-Net's up-step ("a 2 x 2 convolution ("up-convolution") that halves
  the number of feature channels"). Both agree when the widths double at every depth; in the ``paper``
  preset's last depth (256 -> 256) "half" gives 128 channels and 3,349,569 params (-9.5% vs 3.7M).

The first conv, on the raw input, stays a standard 3x3 conv (bias, BN, ReLU): a grouped conv needs its
input channels divisible by its groups (4, 8, 16), which 1- or 3-channel images are not, and
PyConvResNet also keeps a standard stem conv.

Presets (3 -> 1): ``plain`` replaces every 3x3 conv of the 32..512 net by a 4-level PyConv (the
``"pyramid"`` split, 4/4/8/16 channels, is the only 4-level split that fits 32 channels): 5,385,409 params.
``paper`` (default) is the text-consistent configuration closest to the paper's 3.7M params /
10.65 GMac found by ``benchmarks/pyconv_search.py``: widths 32..256 with the deepest stage kept at 256,
4 levels down to depth 3 and 3 at the bottom, 3,676,353 params (-0.6%), but 31.3 GMac ("pt") at
3x512x512. No text-consistent configuration gets below about 31 GMac; see docs/pyconv_unet.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from unetzoo.layers.conv import ConvNormAct, norm_act
from unetzoo.layers.pyconv import PyConv2d, Split
from unetzoo.layers.unet_blocks import contract, expand, up_sampler
from unetzoo.models.base import SegmentationModel
from unetzoo.models.registry import register_model


class PyConvUnit(nn.Sequential):
    """The replacement of one conv3x3-BN-ReLU: PyConv-BN-ReLU, or the bottleneck unit if ``expansion``."""

    def __init__(
        self, in_channels: int, out_channels: int, levels: int, split: Split, expansion: int | None = None
    ) -> None:
        if expansion is None:
            super().__init__(PyConv2d(in_channels, out_channels, levels, split=split), *norm_act(out_channels))
            return
        if expansion < 1 or out_channels % expansion:
            raise ValueError(f"expansion {expansion} must be >= 1 and divide out_channels={out_channels}")
        mid = out_channels // expansion
        super().__init__(  # flat (conv, BN, ReLU) x 3, as the PyConvResNet bottleneck lists its layers
            *ConvNormAct(in_channels, mid, 1, bias=False),
            PyConv2d(mid, mid, levels, split=split),
            *norm_act(mid),
            *ConvNormAct(mid, out_channels, 1, bias=False),
        )


class _Up(nn.Module):
    """Decoder stage: upsample the deeper map, concat [up, skip], two PyConv units."""

    def __init__(
        self, deep: int, shallow: int, levels: int, split: Split, expansion: int | None, up: str, up_width: str
    ) -> None:
        super().__init__()
        self.up, up_channels = up_sampler(up, deep, deep // 2 if up_width == "half" else shallow)
        self.conv = nn.Sequential(
            PyConvUnit(up_channels + shallow, shallow, levels, split, expansion),
            PyConvUnit(shallow, shallow, levels, split, expansion),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


PAPER: dict[str, object] = {
    "widths": (32, 64, 128, 256, 256),
    "levels": (4, 4, 4, 4, 3),
    "split": "pyramid",
    "expansion": None,
    "up": "transpose",
}
PLAIN: dict[str, object] = {
    "widths": (32, 64, 128, 256, 512),
    "levels": (4, 4, 4, 4, 4),
    "split": "pyramid",
    "expansion": None,
    "up": "transpose",
}


@register_model(
    "pyconv_unet",
    paper="Li, Fan, Cai 2021, PyConvU-Net (BMC Bioinformatics 22:14)",
    presets={
        "paper": {"in_channels": 3, "classes": 1, **PAPER},
        "plain": {"in_channels": 3, "classes": 1, **PLAIN},
    },
    default_preset="paper",
)
class PyConvUNet(SegmentationModel):
    """U-Net with pyramidal convolutions.

    Args:
        in_channels: input channels.
        classes: output channels (logits).
        widths: widths per depth, shallow to deep; ``len(widths) - 1`` poolings.
        levels: PyConv pyramid levels per depth (one int for all depths).
        split: per-level channel split of every PyConv.
        expansion: ``None`` for plain PyConv units, else the bottleneck expansion.
        up: ``"transpose"`` or ``"bilinear"`` (see module doc).
        up_width: ``"skip"`` or ``"half"``: the up-convolution's output width (see module doc).
    """

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        *,
        widths: Sequence[int] = (32, 64, 128, 256, 512),
        levels: int | Sequence[int] = 4,
        split: Split = "pyramid",
        expansion: int | None = None,
        up: str = "transpose",
        up_width: str = "skip",
    ) -> None:
        widths = tuple(widths)
        levels = (levels,) * len(widths) if isinstance(levels, int) else tuple(levels)
        if len(widths) < 2 or len(levels) != len(widths):
            raise ValueError(f"need >= 2 widths and one levels entry per width, got {widths} and {levels}")
        if up_width not in ("skip", "half"):
            raise ValueError(f"up_width must be 'skip' or 'half', got {up_width!r}")
        super().__init__(in_channels, classes, input_multiple=2 ** (len(widths) - 1))
        self.widths, self.pyramid_levels = widths, levels
        stem = ConvNormAct(in_channels, widths[0], 3)
        self.encoder = nn.ModuleList(
            [nn.Sequential(stem, PyConvUnit(widths[0], widths[0], levels[0], split, expansion))]
        )
        for d in range(1, len(widths)):
            self.encoder.append(
                nn.Sequential(
                    PyConvUnit(widths[d - 1], widths[d], levels[d], split, expansion),
                    PyConvUnit(widths[d], widths[d], levels[d], split, expansion),
                )
            )
        self.pool = nn.MaxPool2d(2)
        self.decoder = nn.ModuleList(
            _Up(widths[d + 1], widths[d], levels[d], split, expansion, up, up_width)
            for d in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        *skips, x = contract(self.encoder, self.pool, x)
        return self.head(expand(self.decoder, x, skips))
