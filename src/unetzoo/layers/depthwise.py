"""A 1 x k depthwise convolution whose weight gradient takes oneDNN's fast path on a CPU.

U-Lite's axial blocks (:mod:`unetzoo.layers.axial`) pair a k x 1 and a 1 x k depthwise conv. On a CPU, oneDNN
computes the weight gradient of the 1 x k one far more slowly than that of the k x 1 one: measured on 8 x 16 x
256 x 320 channels_last inputs (2 threads, AMD EPYC with AVX-512 BF16) 117 ms in bf16 and 20 ms in fp32,
against 5 ms for the same gradient computed as below (docs/benchmarks.md, CPU training levers). That one
gradient took 390 of the 835 ms of U-Lite's bf16 training step at 8 x 256x320.

The rewrite: in the channels_last layout an (N, C, H, W) tensor is stored as N x H rows of W x C values, so
the same memory, viewed as N * H images of shape (C, W, 1), is again channels_last with no copy. A 1 x k
convolution along W is a k x 1 convolution of those images along their first spatial axis, and oneDNN computes
that weight gradient on its fast path. The forward pass and the input gradient keep the direct form, which is
fast already; the function, and every gradient, is the 1 x k depthwise convolution's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unetzoo.utils.cpu import native_bf16

_conv_backward = torch.ops.aten.convolution_backward


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    """A channels_last (N, C, H, W) tensor viewed, without a copy, as N * H channels_last images (C, W, 1)."""
    n, c, h, w = x.shape
    return x.as_strided((n * h, c, w, 1), (w * c, 1, c, c))


class _RowDepthwise(torch.autograd.Function):
    """Stride-1 depthwise 1 x k conv: direct forward and input gradient, weight gradient over image rows."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        padding: int,
        dilation: int,
    ) -> torch.Tensor:
        if torch.is_autocast_enabled("cpu"):  # compute as autocast would, in its dtype; grads return in ours
            dtype = torch.get_autocast_dtype("cpu")
            x_, weight_ = x.to(dtype), weight.to(dtype)
            bias_ = bias.to(dtype) if bias is not None else None
        else:
            x_, weight_, bias_ = x, weight, bias
        x_ = x_.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", enabled=False):
            out = F.conv2d(x_, weight_, bias_, padding=(0, padding), dilation=(1, dilation), groups=x.shape[1])
        ctx.save_for_backward(x_, weight_)
        ctx.conf = (padding, dilation, bias is not None, x.dtype, weight.dtype)
        return out

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        padding, dilation, has_bias, x_dtype, w_dtype = ctx.conf
        channels = x.shape[1]
        grad = grad.to(x.dtype).contiguous(memory_format=torch.channels_last)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = _conv_backward(
                grad, x, weight, None, [1, 1], [0, padding], [1, dilation], False, [0, 0], channels,
                [True, False, False],
            )[0]  # fmt: skip
        if need_w:
            rows_grad, rows_x, kernel = _as_rows(grad), _as_rows(x), weight.transpose(2, 3)
            if x.dtype == torch.bfloat16 and not native_bf16():  # emulated bf16 sums coarsely over N*H*W pixels
                rows_grad, rows_x, kernel = rows_grad.float(), rows_x.float(), kernel.float()
            grad_w = _conv_backward(
                rows_grad, rows_x, kernel, None, [1, 1], [padding, 0], [dilation, 1], False, [0, 0], channels,
                [False, True, False],
            )[1]  # fmt: skip
            grad_w = grad_w.transpose(2, 3).to(w_dtype)
        if need_b and has_bias:  # a plain sum (fp32 accumulation on a CPU): convolution_backward is slow for it
            grad_b = grad.sum((0, 2, 3)).to(w_dtype)
        return (
            grad_x.to(x_dtype) if grad_x is not None else None,
            grad_w,
            grad_b,
            None,
            None,
        )


def row_depthwise_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: int = 0, dilation: int = 1
) -> torch.Tensor:
    """The depthwise convolution ``F.conv2d(x, weight, bias, padding=(0, padding), dilation=(1, dilation),
    groups=C)`` of a (C, 1, 1, k) ``weight`` along W, computed in channels_last, with the weight gradient taken
    over image rows (module docstring). Forward and gradients equal the direct form's (tests)."""
    if x.dim() != 4 or weight.shape[1:3] != (1, 1) or weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"need (N, C, H, W) input and a (C, 1, 1, k) weight, got {tuple(x.shape)}, {tuple(weight.shape)}"
        )
    return _RowDepthwise.apply(x, weight, bias, padding, dilation)  # type: ignore[no-any-return]
