"""The 1 x k depthwise convolution with the row-wise weight gradient (unetzoo.layers.depthwise): the same
function and the same gradients as the direct convolution, in fp64, fp32 and under bf16 autocast."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from unetzoo.layers.axial import AxialDW
from unetzoo.layers.depthwise import row_depthwise_conv
from unetzoo.models import create_model

CL = torch.channels_last


def direct(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, pad: int, dil: int) -> torch.Tensor:
    return F.conv2d(x, w, b, padding=(0, pad), dilation=(1, dil), groups=x.shape[1])


def grads(
    fn: Callable[..., torch.Tensor], x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """``fn``'s output and its gradients with respect to x, w (and b) for the output gradient ``g``."""
    leaves = [t for t in (x, w, b) if t is not None]
    out = fn(x, w, b)
    return (out, *torch.autograd.grad(out, leaves, g))


@pytest.mark.parametrize(("k", "dil", "bias"), [(7, 1, True), (3, 2, True), (3, 3, False), (5, 1, False)])
def test_gradcheck_fp64(k: int, dil: int, bias: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 11, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    w = torch.randn(3, 1, 1, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True) if bias else None
    pad = dil * (k - 1) // 2
    inputs = (x, w, b) if b is not None else (x, w)
    assert torch.autograd.gradcheck(lambda x, w, b=None: row_depthwise_conv(x, w, b, pad, dil), inputs)
    g = torch.randn(2, 3, 5, 11, dtype=torch.float64)
    ours = grads(lambda *t: row_depthwise_conv(*t, pad, dil), x, w, b, g)
    ref = grads(lambda *t: direct(*t, pad, dil), x, w, b, g)
    for a, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10)


def operands(n: int, c: int, h: int, w: int, k: int) -> tuple[torch.Tensor, ...]:
    """Seeded channels_last input, (c, 1, 1, k) weight, bias and output gradient, all fp32."""
    torch.manual_seed(0)
    x = torch.randn(n, c, h, w).contiguous(memory_format=CL).requires_grad_()
    weight = torch.randn(c, 1, 1, k, requires_grad=True)
    return x, weight, torch.randn(c, requires_grad=True), torch.randn(n, c, h, w)


def test_fp32_equals_direct_at_a_training_size() -> None:
    x, w, b, g = operands(4, 16, 64, 80, 7)
    ours = grads(lambda *t: row_depthwise_conv(*t, 3, 1), x, w, b, g)
    ref = grads(lambda *t: direct(*t, 3, 1), x, w, b, g)
    for a, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-3 * r.abs().max().item())
    assert ours[0].is_contiguous(memory_format=CL)


def test_bf16_autocast_matches_the_direct_form() -> None:
    """Under autocast the function computes in bf16 as the direct conv does; parameter gradients stay fp32."""
    x, w, b, g = operands(4, 16, 32, 40, 7)
    with torch.autocast("cpu", torch.bfloat16):
        ours = grads(lambda *t: row_depthwise_conv(*t, 3, 1), x, w, b, g)
        ref = grads(lambda *t: direct(*t, 3, 1), x, w, b, g)
    exact = grads(lambda *t: direct(*t, 3, 1), x, w, b, g)
    assert ours[0].dtype == ref[0].dtype == torch.bfloat16
    assert [t.dtype for t in ours[1:]] == [torch.float32] * 3
    for a, r, e in zip(ours, ref, exact, strict=True):
        scale = e.abs().max().item()
        # as close to the fp32 result as autocast's own direct conv is (bf16 keeps 8 bits of mantissa)
        assert (a.float() - e).abs().max().item() <= max(2 * (r.float() - e).abs().max().item(), 1e-2 * scale)


def test_axial_block_trains_through_it_with_the_same_gradients() -> None:
    """AxialDW in channels_last (the rewrite) and in NCHW (the nn.Conv2d path): equal outputs and gradients."""
    torch.manual_seed(0)
    block = AxialDW(8, 7, dilation=2)
    x = torch.randn(2, 8, 24, 30)
    results = []
    for layout in (torch.contiguous_format, CL):
        block.zero_grad()
        xi = x.detach().contiguous(memory_format=layout).requires_grad_()
        out = block(xi)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append([out, xi.grad, *(p.grad for p in block.parameters())])
    for a, r in zip(*results, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5)


def test_ulite_gradients_equal_across_layouts() -> None:
    """The whole network: a training step's gradients in channels_last (rewritten 1 x k convs) equal NCHW's."""
    torch.manual_seed(0)
    model = create_model("ulite", in_channels=3, classes=2, widths=(8, 16, 32, 64))
    x = torch.randn(2, 3, 64, 64)
    found = []
    for layout in (torch.contiguous_format, CL):
        model.zero_grad()
        model.to(memory_format=layout)
        model.channels_last = layout == CL
        model(x.contiguous(memory_format=layout)).square().mean().backward()
        found.append([p.grad.clone() for p in model.parameters()])
    for a, r in zip(*found, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-3, atol=1e-5 * max(r.abs().max().item(), 1.0))


def test_shape_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"\(C, 1, 1, k\) weight"):
        row_depthwise_conv(torch.randn(1, 3, 4, 4), torch.randn(3, 1, 3, 1), None)
