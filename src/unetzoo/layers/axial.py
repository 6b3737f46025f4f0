"""Axial depthwise convolution and the U-Lite blocks built on it.

U-Lite (Dinh et al., "1M parameters are enough? A lightweight CNN-based model for medical image
segmentation", APSIPA ASC 2023, arXiv 2306.16103; abstract): "Axial Depthwise Convolutions with kernels 7x7 in
both the encoder and decoder" and "several Axial Dilated Depthwise Convolutions with filters 3x3 for the
bottleneck". The axial depthwise convolution replaces a k x k depthwise kernel by a k x 1 and a 1 x k one plus
an identity. The abstract is all the project's copy of the paper holds: the block layouts (where the 1x1
convs, pooling, BatchNorm and GELU sit) follow the authors' code (duong-db/U-Lite, ``models/ULite.py``); this
is our own implementation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unetzoo.layers.depthwise import row_depthwise_conv
from unetzoo.layers.reparam import EvalCache, batchnorm_affine, batchnorm_sources, use_reparam


class AxialDW(nn.Module):
    """``x + DW(k x 1)(x) + DW(1 x k)(x)``: depthwise, with bias, "same" padding, dilation ``dilation``.

    Training (and any pass under autograd) runs the two axial convs, the paper's form. For inference
    (:func:`~unetzoo.layers.reparam.use_reparam`) the block runs one k x k depthwise conv with
    :meth:`merged_kernel`, the cross of the two axial kernels plus 1 at the centre: the same function in one
    conv instead of two convs and two adds (a structural re-parameterisation, as RepVGG does), cached until
    the weights change. :func:`unetzoo.layers.reparam.as_defined` turns it off (complexity counts use that).
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"AxialDW needs an odd kernel size, got {kernel_size}")
        pad = dilation * (kernel_size - 1) // 2
        self.conv_h = nn.Conv2d(
            channels, channels, (kernel_size, 1), padding=(pad, 0), dilation=dilation, groups=channels
        )
        self.conv_w = nn.Conv2d(
            channels, channels, (1, kernel_size), padding=(0, pad), dilation=dilation, groups=channels
        )
        self._merged = EvalCache()

    def sources(self) -> list[torch.Tensor]:
        """The tensors :meth:`merged_kernel` is computed from."""
        return [self.conv_h.weight, self.conv_w.weight, self.conv_h.bias, self.conv_w.bias]

    def merged_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight (C, 1, k, k) and bias (C,) of the one depthwise conv equal to this block, identity included."""
        k = self.conv_h.kernel_size[0]
        centre = k // 2
        weight = self.conv_h.weight.new_zeros(self.conv_h.out_channels, 1, k, k)
        weight[:, :, :, centre] += self.conv_h.weight[:, :, :, 0]
        weight[:, :, centre, :] += self.conv_w.weight[:, :, 0, :]
        weight[:, :, centre, centre] += 1.0
        return weight, self.conv_h.bias + self.conv_w.bias

    def depthwise(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``x`` through a merged k x k depthwise kernel with this block's padding and dilation."""
        dilation = self.conv_h.dilation[0]
        return F.conv2d(x, weight, bias, padding=self.conv_h.padding[0], dilation=dilation, groups=weight.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if use_reparam(self):
            return self.depthwise(x, *self._merged.get(self.sources(), self.merged_kernel))
        out = self.conv_h(x)  # fresh tensor, not saved for backward: safe to accumulate into in place
        out += self._conv_w(x)
        out += x
        return out

    def _conv_w(self, x: torch.Tensor) -> torch.Tensor:
        """The 1 x k conv. Training on a CPU in channels_last takes :func:`row_depthwise_conv`, the same
        function whose weight gradient avoids oneDNN's slow path for 1 x k kernels."""
        conv = self.conv_w
        if x.device.type == "cpu" and torch.is_grad_enabled() and x.is_contiguous(memory_format=torch.channels_last):
            return row_depthwise_conv(x, conv.weight, conv.bias, conv.padding[1], conv.dilation[1])
        return conv(x)


class AxialEncoderBlock(nn.Module):
    """U-Lite encoder block: ``skip = BN(AxialDW7(x))``; ``down = GELU(MaxPool2(PW(skip)))``.

    The skip keeps the input width and resolution; note the order PW -> pool -> GELU. Returns (down, skip).
    For inference the BatchNorm is folded into the merged axial kernel: ``skip`` is one depthwise conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.axial = AxialDW(in_channels, kernel_size)
        self.norm = nn.BatchNorm2d(in_channels)
        self.pw = nn.Conv2d(in_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.GELU()
        self._folded = EvalCache()

    def _folded_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = self.axial.merged_kernel()
        scale, shift = batchnorm_affine(self.norm)
        return weight * scale.view(-1, 1, 1, 1), bias * scale + shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if use_reparam(self) and isinstance(self.axial, AxialDW) and isinstance(self.norm, nn.BatchNorm2d):
            sources = [*self.axial.sources(), *batchnorm_sources(self.norm)]
            skip = self.axial.depthwise(x, *self._folded.get(sources, self._folded_kernel))
        else:
            skip = self.norm(self.axial(x))
        return self.act(self.pool(self.pw(skip))), skip


class AxialBottleneck(nn.Module):
    """U-Lite bottleneck: PW c -> c/4; concat[x, AxialDW3 at dilations 1, 2, 3] -> c; BN; PW c -> c; GELU.

    For inference the BatchNorm is folded into the 1x1 expansion after it (a per-input-channel affine map
    before a 1x1 conv scales its weight columns and shifts its bias).
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilations: tuple[int, ...] = (1, 2, 3)) -> None:
        super().__init__()
        branches = len(dilations) + 1
        if channels % branches:
            raise ValueError(f"channels ({channels}) must divide into {branches} branches")
        mid = channels // branches
        self.reduce = nn.Conv2d(channels, mid, 1)
        self.branches = nn.ModuleList(AxialDW(mid, kernel_size, d) for d in dilations)
        self.norm = nn.BatchNorm2d(channels)
        self.expand = nn.Conv2d(channels, channels, 1)
        self.act = nn.GELU()
        self._folded = EvalCache()

    def _folded_expand(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = batchnorm_affine(self.norm)
        weight = self.expand.weight[:, :, 0, 0]
        return (weight * scale).view_as(self.expand.weight), self.expand.bias + weight @ shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        x = torch.cat([x, *(branch(x) for branch in self.branches)], dim=1)
        if use_reparam(self) and isinstance(self.norm, nn.BatchNorm2d):
            sources = [self.expand.weight, self.expand.bias, *batchnorm_sources(self.norm)]
            return self.act(F.conv2d(x, *self._folded.get(sources, self._folded_expand)))
        return self.act(self.expand(self.norm(x)))


class AxialDecoderBlock(nn.Module):
    """U-Lite decoder block: ``GELU(PW(AxialDW7(BN(PW(concat[up2(x), skip])))))``, nearest upsampling.

    ``fuse`` is the 1x1 conv over concat[up2(x), skip] (``in + out`` -> ``out`` channels, up first).
    It is evaluated without building the concatenation: a 1x1 conv commutes with nearest upsampling, so
    ``fuse(concat[up2(x), skip]) = up2(W_x * x) + W_skip * skip + b``. The x part then runs at a quarter of
    the pixels and neither the upsampled ``in``-channel map nor the concat is materialised. Same function
    and parameters as the literal form. For inference the BatchNorm is folded into ``fuse``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.split = (in_channels, out_channels)
        self.fuse = nn.Conv2d(in_channels + out_channels, out_channels, 1)
        self.norm = nn.BatchNorm2d(out_channels)
        self.axial = AxialDW(out_channels, kernel_size)
        self.pw = nn.Conv2d(out_channels, out_channels, 1)
        self.act = nn.GELU()
        self._folded = EvalCache()

    def _folded_fuse(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = batchnorm_affine(self.norm)
        return self.fuse.weight * scale.view(-1, 1, 1, 1), self.fuse.bias * scale + shift

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        fold = use_reparam(self) and isinstance(self.norm, nn.BatchNorm2d)
        if fold:
            sources = [self.fuse.weight, self.fuse.bias, *batchnorm_sources(self.norm)]
            weight, bias = self._folded.get(sources, self._folded_fuse)
        else:
            weight, bias = self.fuse.weight, self.fuse.bias
        w_up, w_skip = weight.split(self.split, dim=1)
        y = F.conv2d(skip, w_skip, bias)
        y += F.interpolate(F.conv2d(x, w_up), scale_factor=2.0, mode="nearest")
        return self.act(self.pw(self.axial(y if fold else self.norm(y))))
