"""Plain convolution blocks shared by most models.

``ConvNormAct`` is the conv -> norm -> activation unit; ``DoubleConv`` is the two-conv unit of the U-Net
contracting/expanding path (Ronneberger et al. 2015, Sec. 2), called VGGBlock in UNet++/UNet# code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NormFactory = Callable[[int], nn.Module]


def batch_norm(channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels)


def no_norm(channels: int) -> nn.Module:
    return nn.Identity()


def group_norm(groups: int = 32) -> NormFactory:
    """GroupNorm factory with ``groups`` groups (capped by the channel count)."""

    def make(channels: int) -> nn.Module:
        return nn.GroupNorm(min(groups, channels), channels)

    return make


def norm_factory(norm: str | None) -> NormFactory:
    """Map a norm name ('batch', 'group', 'none'/None) to a factory taking the channel count."""
    if norm in (None, "none"):
        return no_norm
    if norm == "batch":
        return batch_norm
    if norm == "group":
        return group_norm()
    raise ValueError(f"unknown norm {norm!r}; use 'batch', 'group' or 'none'")


def norm_act(channels: int, norm: NormFactory = batch_norm, act: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    """The norm -> activation pair that follows a convolution (no module for ``no_norm`` or ``act=None``).

    For convolutions that are not a plain ``nn.Conv2d`` (pyramidal, separable, ...); :class:`ConvNormAct` uses it.
    """
    layers = [norm(channels)]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6) else act())
    return [m for m in layers if not isinstance(m, nn.Identity)]


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> activation.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: square kernel size.
        padding: ``'same'`` (k // 2 * dilation) or ``'valid'`` (0), or an int.
        norm: factory taking the channel count (``batch_norm``, ``no_norm``, ...).
        act: activation module class, or None for no activation.
        bias: conv bias; defaults to True (the papers' code keeps biases even before BN).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: str | int = "same",
        dilation: int = 1,
        groups: int = 1,
        norm: NormFactory = batch_norm,
        act: type[nn.Module] | None = nn.ReLU,
        bias: bool = True,
    ) -> None:
        if padding == "same":
            padding = kernel_size // 2 * dilation
        elif padding == "valid":
            padding = 0
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=bias),
            *norm_act(out_channels, norm, act),
        )


class DoubleConv(nn.Sequential):
    """Two 3x3 ConvNormAct units: in -> mid -> out (U-Net's basic unit; "VGGBlock" in UNet++/UNet#)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        *,
        padding: str | int = "same",
        norm: NormFactory = batch_norm,
        act: type[nn.Module] = nn.ReLU,
    ) -> None:
        mid = out_channels if mid_channels is None else mid_channels
        super().__init__(
            ConvNormAct(in_channels, mid, 3, padding=padding, norm=norm, act=act),
            ConvNormAct(mid, out_channels, 3, padding=padding, norm=norm, act=act),
        )


def upsample_like(x: torch.Tensor, size: tuple[int, int] | torch.Size, mode: str = "bilinear") -> torch.Tensor:
    """Resize ``x`` to ``size``; bilinear uses ``align_corners=True`` as the UNet++/UNet# code does."""
    if mode == "nearest":
        return nn.functional.interpolate(x, size=size, mode="nearest")
    return nn.functional.interpolate(x, size=size, mode=mode, align_corners=True)
