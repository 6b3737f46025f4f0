"""Padding helpers that let every model accept any H, W >= 16.

Models need H and W divisible by ``2 ** depth`` (same-padding nets) or of the overlap-tile form
(valid-convolution U-Net). We mirror-pad the input to what the net needs and crop the output back,
as in the overlap-tile strategy of Ronneberger et al. 2015, Sec. 2 / Fig. 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mirror_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Reflect-pad ``x`` (N, C, H, W) by any amount, reflecting repeatedly when a pad exceeds the size."""
    while top or bottom or left or right:
        h, w = x.shape[-2:]
        t, b = min(top, h - 1), min(bottom, h - 1)
        lft, r = min(left, w - 1), min(right, w - 1)
        if h == 1 or w == 1:  # reflection impossible on a single row/column: replicate instead
            return F.pad(x, (left, right, top, bottom), mode="replicate")
        x = F.pad(x, (lft, r, t, b), mode="reflect")
        top, bottom, left, right = top - t, bottom - b, left - lft, right - r
    return x


def pad_amounts(size: int, multiple: int, minimum: int = 0) -> tuple[int, int]:
    """Split the padding that brings ``size`` to a multiple of ``multiple`` (and at least ``minimum``)
    into (before, after)."""
    total = max((-size) % multiple, minimum - size)
    return total // 2, total - total // 2


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Mirror-pad H and W up to a multiple of ``multiple``; return the padded tensor and (top, bottom, left, right)."""
    top, bottom = pad_amounts(x.shape[-2], multiple)
    left, right = pad_amounts(x.shape[-1], multiple)
    if top or bottom or left or right:
        x = mirror_pad(x, top, bottom, left, right)
    return x, (top, bottom, left, right)


def crop(x: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """Crop the spatial window [top:top+height, left:left+width] of an (N, C, H, W) tensor."""
    return x[..., top : top + height, left : left + width]


def crop_scaled(
    x: torch.Tensor, padded: tuple[int, int] | torch.Size, top: int, left: int, height: int, width: int
) -> torch.Tensor:
    """:func:`crop` of an output at ``1/s`` of the ``padded`` input's size (``s`` = padded // output size): the
    cells covering input rows ``top .. top+height-1`` (and columns likewise); ``s = 1`` is a plain crop."""
    sy, sx = padded[0] // x.shape[-2], padded[1] // x.shape[-1]
    if sy == sx == 1:
        return crop(x, top, left, height, width)
    y0, x0 = top // sy, left // sx
    return crop(x, y0, x0, -(-(top + height) // sy) - y0, -(-(left + width) // sx) - x0)


def center_crop_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Centre-crop ``x`` to the spatial size of ``like`` (the skip crop of the valid-conv U-Net)."""
    dh = x.shape[-2] - like.shape[-2]
    dw = x.shape[-1] - like.shape[-1]
    return crop(x, dh // 2, dw // 2, like.shape[-2], like.shape[-1])
