"""Depthwise-separable convolution with optional weight standardisation (WS), and WS folding for export.

* ``SeparableConv2d``: depthwise k x k (no bias, depth multiplier 1) then pointwise 1x1 (with bias), as in
  MobileNetV1 (Howard et al. 2017, Sec. 3.1) and Keras ``SeparableConv2D``; SD-UNet (Gadosey et al.,
  Diagnostics 2020) uses it for every convolution but the first.
* ``WSConv2d``: weight standardisation (Qiao et al. 2019, "Micro-Batch Training with Batch-Channel
  Normalization and Weight Standardization", arXiv 1903.10520), in the form SD-UNet writes it (Sec. 2.3):
  each filter is standardised over its fan-in, ``w <- (w - mu) / (sigma + eps)``, with the population
  standard deviation (what Keras/TensorFlow, SD-UNet's framework, compute) and ``eps = WS_EPS``. (Qiao et al.'s
  paper puts eps under the square root, ``sqrt(var + eps)``; their code adds 1e-5 to the unbiased std.)
  For a depthwise kernel the fan-in is only its k*k taps.
* ``fold_weight_standardization``: a copy of a module whose ``WSConv2d`` layers are plain ``nn.Conv2d``
  holding the standardised weights, numerically equivalent, for inference and export (no per-call
  standardisation, no custom layer).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

WS_EPS = 1e-5
"""The epsilon of SD-UNet's ``(W - mu) / (sigma + eps)`` (Sec. 2.3), which gives no value: Qiao et al.'s released
code's 1e-5. Depthwise filters have only 4-9 taps, so some have a small std at init (~1e-2): their
standardised std is then sigma / (sigma + eps), short of 1 by about 0.1%."""


def standardize_weight(weight: torch.Tensor, eps: float = WS_EPS) -> torch.Tensor:
    """Standardise each output filter of a conv weight (O, I/groups, kH, kW) over its fan-in:
    ``(w - mu) / (sigma + eps)`` with the population std (SD-UNet Sec. 2.3)."""
    std, mean = torch.std_mean(weight, dim=(1, 2, 3), keepdim=True, correction=0)
    return (weight - mean) / (std + eps)


class WSConv2d(nn.Conv2d):
    """``nn.Conv2d`` (zero padding) whose weight is standardised per filter at every call (Qiao et al. 2019)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        eps: float = WS_EPS,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = standardize_weight(self.weight, self.eps)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def fold(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` with the standardised weight baked in (same outputs)."""
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(standardize_weight(self.weight, self.eps))
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv.train(self.training)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}"


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) zero padding that keeps the size at stride 1; the extra pixel goes after, as in Keras."""
    total = dilation * (kernel_size - 1)
    return total // 2, total - total // 2


class SeparableConv2d(nn.Sequential):
    """Depthwise k x k (no bias) -> pointwise 1x1 (bias), "same" padding at stride 1; no norm or activation.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: depthwise kernel size; an even size is padded one pixel more after (bottom/right)
            than before, as Keras does (a ``pad`` layer is then inserted: one copy of the input).
        dilation: depthwise dilation.
        weight_standardization: standardise the depthwise kernels (``WSConv2d``; SD-UNet).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        dilation: int = 1,
        weight_standardization: bool = False,
    ) -> None:
        before, after = same_padding(kernel_size, dilation)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if before != after:
            layers["pad"] = nn.ZeroPad2d((before, after, before, after))
            before = 0
        depthwise = WSConv2d if weight_standardization else nn.Conv2d
        layers["depthwise"] = depthwise(
            in_channels, in_channels, kernel_size, padding=before, dilation=dilation, groups=in_channels, bias=False
        )
        layers["pointwise"] = nn.Conv2d(in_channels, out_channels, 1)
        super().__init__(layers)


def fold_weight_standardization(module: nn.Module) -> nn.Module:
    """Deep copy of ``module`` with every ``WSConv2d`` replaced by its folded plain ``nn.Conv2d``.

    The copy gives the same outputs (up to float rounding) and no longer standardises at each call, so it
    exports as ordinary convolutions. Training the copy would no longer keep the kernels standardised.
    """
    folded = copy.deepcopy(module)
    if isinstance(folded, WSConv2d):
        return folded.fold()
    for parent in list(folded.modules()):
        for name, child in parent.named_children():
            if isinstance(child, WSConv2d):
                setattr(parent, name, child.fold())
    return folded
