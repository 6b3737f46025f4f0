"""U-Lite (Dinh et al. 2023; block layout of the authors' code): exact parameters, block structure and maths."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unetzoo
from unetzoo.bench.profile import profile
from unetzoo.layers.axial import AxialBottleneck, AxialDecoderBlock, AxialDW, AxialEncoderBlock
from unetzoo.layers.reparam import as_defined


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return unetzoo.create_model("ulite")


def test_params_exact(model: nn.Module) -> None:
    assert (model.in_channels, model.classes) == (3, 1)  # the "paper" preset is the default
    assert sum(p.numel() for p in model.parameters()) == 878_417


def test_conv_macs() -> None:
    """Conv MACs at 3x64x64, x16 for 256x256 (same-padded: MACs scale with pixels).

    The spec's 0.754 G "conv" (0.737 G without bias adds) is for the literal decoder; ours evaluates
    the decoder's first 1x1 conv at low resolution for the upsampled part (same function), 0.611 G.
    """
    macs = profile(unetzoo.create_model("ulite"), (1, 3, 64, 64), memory=False).macs * 16
    assert macs == pytest.approx(0.6107e9, rel=0.01)


def test_structure(model: nn.Module) -> None:
    stem = model.stem
    assert (stem.in_channels, stem.out_channels, stem.kernel_size) == (3, 16, (7, 7))
    widths = [16, 32, 64, 128, 256, 512]
    assert [(b.pw.in_channels, b.pw.out_channels) for b in model.encoder] == list(pairwise(widths))
    assert all(b.axial.conv_h.kernel_size == (7, 1) for b in model.encoder)
    up_pairs = [(b, a) for a, b in reversed(list(pairwise(widths)))]  # (512, 256), ..., (32, 16)
    assert [(b.split, b.pw.out_channels) for b in model.decoder] == [((a, b), b) for a, b in up_pairs]
    assert all(b.axial.conv_w.kernel_size == (1, 7) for b in model.decoder)
    neck = model.bottleneck
    assert (neck.reduce.in_channels, neck.reduce.out_channels, neck.expand.out_channels) == (512, 128, 512)
    assert [(br.conv_h.kernel_size, br.conv_h.dilation[0]) for br in neck.branches] == [((3, 1), d) for d in (1, 2, 3)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 11
    assert sum(isinstance(m, nn.GELU) for m in model.modules()) == 11
    assert (model.head.in_channels, model.head.kernel_size) == (16, (1, 1))
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())  # logits


@pytest.mark.parametrize("dilation", [1, 3])
def test_axial_dw(dilation: int) -> None:
    torch.manual_seed(0)
    block = AxialDW(4, 7, dilation)
    for conv in (block.conv_h, block.conv_w):
        assert conv.groups == 4 and conv.bias is not None
    x = torch.randn(2, 4, 24, 20)
    expected = x + block.conv_h(x) + block.conv_w(x)
    torch.testing.assert_close(block(x), expected)
    assert sum(p.numel() for p in block.parameters()) == 2 * 4 * (7 + 1)
    block.eval()
    with torch.no_grad():  # inference runs one merged k x k depthwise conv: the same function
        torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)
    weight, _ = block.merged_kernel()
    assert weight.shape == (4, 1, 7, 7) and int((weight != 0).sum()) <= 4 * 13


def _randomize_norms(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module


def _block_cases() -> list[tuple[nn.Module, tuple[torch.Tensor, ...]]]:
    torch.manual_seed(0)
    return [
        (AxialDW(4, 7, 2), (torch.randn(2, 4, 12, 10),)),
        (AxialEncoderBlock(4, 8), (torch.randn(2, 4, 16, 12),)),
        (AxialBottleneck(16), (torch.randn(2, 16, 8, 8),)),
        (AxialDecoderBlock(8, 4), (torch.randn(2, 8, 6, 5), torch.randn(2, 4, 12, 10))),
    ]


@pytest.mark.parametrize("case", range(4))
def test_inference_reparam_equals_defined_form(case: int) -> None:
    """Merged axial kernels and folded BatchNorms (eval, no autograd) compute the paper's function."""
    block, inputs = _block_cases()[case]
    _randomize_norms(block).eval()
    with torch.no_grad():
        with as_defined():
            expected = block(*inputs)
        fast = block(*inputs)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)  # tuples (encoder) compare element-wise


def test_inference_kernels_follow_weight_and_statistics_updates() -> None:
    """The cached kernels are rebuilt after any update (optimizer step, BN statistics, load_state_dict)."""
    torch.manual_seed(0)
    block = _randomize_norms(AxialEncoderBlock(2, 4)).eval()
    x = torch.randn(1, 2, 8, 8)

    def check() -> None:
        with torch.no_grad():
            with as_defined():
                expected = block(x)[1]
            torch.testing.assert_close(block(x)[1], expected, atol=1e-5, rtol=1e-5)

    check()  # fills the cache
    with torch.no_grad():
        block.axial.conv_w.weight.add_(1.0)  # in place, as an optimizer step does
    check()
    block.norm.running_var.mul_(3.0)  # BN statistics, as a training forward updates them
    check()
    block.load_state_dict(
        {k: torch.rand_like(v) + 0.5 if v.is_floating_point() else v for k, v in block.state_dict().items()}
    )
    check()
    with torch.inference_mode():
        assert block(x)[1].shape == x.shape
    block(x)[1].sum().backward()  # eval with autograd runs the defining form: gradients reach the kernels
    assert block.axial.conv_h.weight.grad is not None and block.norm.weight.grad is not None


def test_axial_dw_backward() -> None:
    block = AxialDW(3, 7)
    x = torch.randn(1, 3, 10, 10, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and block.conv_h.weight.grad is not None


def test_encoder_block_order() -> None:
    """skip = BN(AxialDW(x)); down = GELU(MaxPool(PW(skip))): PW before pooling, GELU last."""
    torch.manual_seed(0)
    block = AxialEncoderBlock(4, 8).eval()
    x = torch.randn(1, 4, 16, 16)
    down, skip = block(x)
    torch.testing.assert_close(skip, block.norm(block.axial(x)))
    torch.testing.assert_close(down, F.gelu(F.max_pool2d(block.pw(skip), 2)))
    assert down.shape == (1, 8, 8, 8) and skip.shape == (1, 4, 16, 16)


def test_decoder_block_equals_literal_concat_form() -> None:
    """The concat-free evaluation equals PW(concat[up2(x), skip]) -> BN -> AxialDW -> PW -> GELU, output and
    gradients (inputs and every parameter)."""
    torch.manual_seed(0)
    block = AxialDecoderBlock(8, 4).eval()
    x = torch.randn(2, 8, 6, 5, requires_grad=True)
    skip = torch.randn(2, 4, 12, 10, requires_grad=True)
    leaves = [x, skip, *block.parameters()]

    def literal() -> torch.Tensor:
        cat = torch.cat([F.interpolate(x, scale_factor=2.0, mode="nearest"), skip], dim=1)
        return block.act(block.pw(block.axial(block.norm(block.fuse(cat)))))

    weights = torch.randn(2, 4, 12, 10)
    ours, expected = block(x, skip), literal()
    torch.testing.assert_close(ours, expected)
    for got, want in zip(
        torch.autograd.grad((ours * weights).sum(), leaves),
        torch.autograd.grad((expected * weights).sum(), leaves),
        strict=True,
    ):
        torch.testing.assert_close(got, want)


def test_bottleneck() -> None:
    torch.manual_seed(0)
    neck = AxialBottleneck(16).eval()
    x = torch.randn(1, 16, 8, 8)
    r = neck.reduce(x)
    cat = torch.cat([r, *(b(r) for b in neck.branches)], dim=1)
    torch.testing.assert_close(neck(x), F.gelu(neck.expand(neck.norm(cat))))


def test_widths_set_depth_and_channels() -> None:
    model = unetzoo.create_model("ulite", in_channels=1, widths=(8, 16, 32, 64))
    assert model.input_multiple == 8 and len(model.encoder) == len(model.decoder) == 3
    assert [b.pw.out_channels for b in model.encoder] == [16, 32, 64] and model.bottleneck.expand.in_channels == 64
    assert model(torch.randn(2, 1, 20, 28)).shape == (2, 1, 20, 28)
    with pytest.raises(ValueError, match="must divide into 4 branches"):
        unetzoo.create_model("ulite", widths=(8, 18))


def test_the_reparameterised_inference_path_traces_without_graph_breaks() -> None:
    """``torch.compile`` sees the eval-mode folded form as one graph: the fold cache steps aside while compiling
    and the reparameterisation switch is read as a constant (a ContextVar or a data-pointer cache would break
    the graph at every block and recompile per width, making the compiled model slower than eager)."""
    model = unetzoo.create_model("ulite", in_channels=3, classes=1).eval()
    with torch.inference_mode():
        explained = torch._dynamo.explain(model)(torch.randn(1, 3, 64, 64))
    assert explained.graph_break_count == 0, explained.break_reasons
