"""Contracting path and expanding-path step shared by the U-Net family (U-Net, wide U-Net, UNet++).

``Encoder`` is the U-Net contracting path (Ronneberger et al. 2015, Sec. 2, Fig. 1 left), which is also
the backbone column X^{i,0} of UNet++ (Zhou et al. 2018, Sec. 2, Fig. 1a). ``UpBlock`` is one step of the
expanding path: upsample the deeper map x2, concatenate it after the skip map(s), apply a DoubleConv.
With several skips it is a UNet++ node X^{i,j} = H([X^{i,0}, ..., X^{i,j-1}, U(X^{i+1,j-1})]).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import torch
from torch import nn

from unetzoo.layers.conv import DoubleConv, NormFactory, batch_norm
from unetzoo.layers.padding import center_crop_to


class Encoder(nn.Module):
    """DoubleConv at ``widths[0]``, then (maxpool 2x2 stride 2, DoubleConv) for each further width.

    ``forward`` returns the output of every stage, shallowest first (the last one is the bottleneck).
    """

    def __init__(
        self,
        in_channels: int,
        widths: tuple[int, ...] | list[int],
        *,
        padding: str = "same",
        norm: NormFactory = batch_norm,
    ) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.stages = nn.ModuleList(
            DoubleConv(c_in, c_out, padding=padding, norm=norm)
            for c_in, c_out in itertools.pairwise([in_channels, *widths])
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return contract(self.stages, self.pool, x)


def contract(stages: Iterable[nn.Module], pool: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Run a contracting path (Ronneberger et al. 2015, Sec. 2): the first stage on ``x``, then ``pool`` and
    the next stage, and so on; returns every stage's output, shallowest first (the last is the bottleneck).

    Shared by :class:`Encoder` and the encoders built of other blocks (attention U-Net, PyConvU-Net)."""
    features: list[torch.Tensor] = []
    for stage in stages:
        x = stage(pool(x) if features else x)
        features.append(x)
    return features


def expand(stages: Iterable[nn.Module], deep: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
    """Run an expanding path (Ronneberger et al. 2015, Sec. 2): each stage on the running map and the next
    shallower skip, from ``deep`` (the bottleneck) up; ``skips`` are ordered shallowest first, as
    :func:`contract` returns them. Shared by U-Net, attention U-Net, PyConvU-Net and U-Lite."""
    for stage, skip in zip(stages, reversed(skips), strict=True):
        deep = stage(deep, skip)
    return deep


def up_sampler(up: str, deep_channels: int, out_channels: int) -> tuple[nn.Module, int]:
    """The x2 upsampling of an expanding-path step and the channels it yields.

    ``'transpose'``: a 2x2 stride-2 up-convolution to ``out_channels`` (Ronneberger et al. 2015, Sec. 2:
    "up-convolution that halves the number of feature channels" when ``out_channels`` is half the input);
    ``'bilinear'``: parameter-free x2 bilinear upsampling (align_corners=True) keeping ``deep_channels``.
    """
    if up == "transpose":
        return nn.ConvTranspose2d(deep_channels, out_channels, 2, stride=2), out_channels
    if up == "bilinear":
        return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), deep_channels
    raise ValueError(f"unknown up {up!r}; use 'transpose' or 'bilinear'")


class UpBlock(nn.Module):
    """One expanding-path step: ``DoubleConv(cat[*skips, up(deep)])``.

    Args:
        deep_channels: channels of the deeper (coarser) map.
        skip_channels: total channels of the skip map(s) it is concatenated with.
        out_channels: output channels of the DoubleConv.
        up: ``'transpose'``, a 2x2 stride-2 up-convolution to ``out_channels`` (Ronneberger et al. 2015,
            Sec. 2: "up-convolution that halves the number of feature channels"); or ``'bilinear'``, a
            parameter-free x2 bilinear upsampling (align_corners=True) that keeps ``deep_channels``, as in
            the PyTorch UNet++ form.
        padding: ``'same'`` or ``'valid'`` for the DoubleConv. Skips larger than the upsampled map (valid
            convolutions) are centre-cropped to it (Ronneberger et al. 2015, Sec. 2).
        norm: norm factory of the DoubleConv.
    """

    def __init__(
        self,
        deep_channels: int,
        skip_channels: int,
        out_channels: int,
        *,
        up: str = "bilinear",
        padding: str = "same",
        norm: NormFactory = batch_norm,
    ) -> None:
        super().__init__()
        self.up, up_channels = up_sampler(up, deep_channels, out_channels)
        self.conv = DoubleConv(skip_channels + up_channels, out_channels, padding=padding, norm=norm)

    def forward(self, deep: torch.Tensor, *skips: torch.Tensor) -> torch.Tensor:
        up = self.up(deep)
        return self.conv(torch.cat([*(center_crop_to(s, up) for s in skips), up], dim=1))
