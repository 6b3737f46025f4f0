"""SD-UNet (Gadosey et al. 2020): parameter target, blocks of Sec. 3.2, weight standardisation (Sec. 2.3), folding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import unetzoo
from unetzoo.bench.profile import profile
from unetzoo.layers.separable import (
    WS_EPS,
    SeparableConv2d,
    WSConv2d,
    fold_weight_standardization,
    standardize_weight,
)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return unetzoo.create_model("sd_unet")


def test_params_exact(model: nn.Module) -> None:
    params = sum(p.numel() for p in model.parameters())
    assert params == 3_903_237  # Table 1: "3.9M"
    assert abs(params - 3.90e6) / 3.90e6 < 0.005


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [
        ({"preset": "literal"}, 2_851_991),  # Sec. 3.2 as written: far from 3.9M, because of encoder Block5
        ({"bottleneck": "layer"}, 2_842_373),
        ({"last_blocks": 2}, 3_912_837),
        ({"prediction": "separable"}, 3_903_255),
        ({"last_blocks": 2, "prediction": "separable"}, 3_912_855),  # decoder Block 5 as written: still 3.9M
    ],
)
def test_params_of_the_readings_as_written(kwargs: dict[str, object], params: int) -> None:
    with torch.device("meta"):
        assert sum(p.numel() for p in unetzoo.create_model("sd_unet", **kwargs).parameters()) == params


def test_paper_preset_is_default(model: nn.Module) -> None:
    assert unetzoo.list_presets("sd_unet")[0] == "paper"
    assert (model.in_channels, model.classes) == (1, 1)


def test_conv_macs() -> None:
    """Conv MACs scale with the pixel count: 64 x 64 is 1/64 of ~29.6 G "conv" at 1x512x512 (the preset as
    written: 30.9 G)."""
    macs = profile(unetzoo.create_model("sd_unet"), (1, 1, 64, 64), memory=False).macs * 64
    assert macs == pytest.approx(29.6e9, rel=0.02)
    literal = unetzoo.create_model("sd_unet", preset="literal")
    assert profile(literal, (1, 1, 64, 64), memory=False).macs * 64 == pytest.approx(30.9e9, rel=0.02)


def test_standardize_weight_math() -> None:
    torch.manual_seed(1)
    w = torch.randn(8, 1, 3, 3) * 3 + 2
    ws = standardize_weight(w)
    flat = ws.flatten(1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(8), atol=1e-6, rtol=0)
    torch.testing.assert_close(flat.std(1, correction=0), torch.ones(8), atol=1e-5, rtol=0)
    # SD-UNet Sec. 2.3: (W - mu) / (sigma + eps), eps added to the std, not under the square root
    expected = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True, correction=0) + WS_EPS)
    torch.testing.assert_close(ws, expected)
    tiny = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 2, 2) * 1e-5  # sigma = eps: the std is halved
    torch.testing.assert_close(standardize_weight(tiny).flatten(1).std(1, correction=0), torch.tensor([0.5]))


def test_depthwise_kernels_standardised_in_model(model: nn.Module) -> None:
    ws_convs = [m for m in model.modules() if isinstance(m, WSConv2d)]
    assert ws_convs
    for conv in ws_convs:
        assert conv.groups == conv.in_channels == conv.out_channels  # depthwise, multiplier 1
        assert conv.bias is None
        flat = standardize_weight(conv.weight).flatten(1)  # one row per filter: its k*k taps
        assert flat.shape[1] == conv.kernel_size[0] * conv.kernel_size[1]
        assert flat.mean(1).abs().max() < 1e-5
        # unit std up to the eps term: exactly sigma / (sigma + eps)
        sigma = conv.weight.detach().flatten(1).std(1, correction=0)
        std = flat.detach().std(1, correction=0)
        torch.testing.assert_close(std, sigma / (sigma + conv.eps))
        assert (std - 1).abs().max() < 1e-2


def test_ablation_without_weight_standardization(model: nn.Module) -> None:
    plain = unetzoo.create_model("sd_unet", weight_standardization=False)
    assert not any(isinstance(m, WSConv2d) for m in plain.modules())
    assert [p.shape for p in plain.parameters()] == [p.shape for p in model.parameters()]
    # With WS every depthwise kernel is zero-mean (a high-pass filter): a constant input gives 0 away from
    # the zero-padded borders, so no depthwise layer passes a region's mean intensity.
    depthwise = next(m for m in model.modules() if isinstance(m, WSConv2d))
    flat = torch.ones(1, depthwise.in_channels, 8, 8)
    assert depthwise(flat)[..., 2:-2, 2:-2].abs().max() < 1e-4


def test_ws_conv_uses_standardised_weight() -> None:
    torch.manual_seed(2)
    conv = WSConv2d(4, 4, 3, padding=1, groups=4, bias=False)
    x = torch.randn(1, 4, 8, 8)
    expected = nn.functional.conv2d(x, standardize_weight(conv.weight), padding=1, groups=4)
    torch.testing.assert_close(conv(x), expected)
    # scaling or shifting a filter does not change the output (up to the eps term): that is what WS buys
    with torch.no_grad():
        conv.weight.mul_(5).add_(3)
    torch.testing.assert_close(conv(x), expected, atol=1e-3, rtol=1e-3)


def test_fold_equivalence(model: nn.Module) -> None:
    model.eval()
    folded = model.fold_weight_standardization()
    assert folded is not model and type(folded) is type(model)
    assert not any(isinstance(m, WSConv2d) for m in folded.modules())
    assert any(isinstance(m, WSConv2d) for m in model.modules()), "the original must be left untouched"
    assert sum(p.numel() for p in folded.parameters()) == sum(p.numel() for p in model.parameters())
    x = torch.randn(2, 1, 48, 80)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=0)
    model.train()


def test_fold_single_layer_keeps_config() -> None:
    conv = WSConv2d(6, 6, 3, padding=2, dilation=2, groups=6, bias=True).eval()
    plain = fold_weight_standardization(conv)
    assert type(plain) is nn.Conv2d and not plain.training
    assert (plain.padding, plain.dilation, plain.groups) == ((2, 2), (2, 2), 6)
    x = torch.randn(1, 6, 12, 12)
    torch.testing.assert_close(plain(x), conv(x))


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_separable_conv_keeps_size(kernel_size: int) -> None:
    conv = SeparableConv2d(4, 6, kernel_size)
    assert type(conv.depthwise) is nn.Conv2d and conv.depthwise.bias is None
    assert conv.pointwise.kernel_size == (1, 1) and conv.pointwise.bias is not None
    assert conv(torch.randn(1, 4, 9, 10)).shape == (1, 6, 9, 10)


def separable_and_plain(model: nn.Module) -> tuple[list[SeparableConv2d], list[nn.Conv2d]]:
    separable = [m for m in model.modules() if isinstance(m, SeparableConv2d)]
    inside = {id(c) for s in separable for c in s.modules()}
    return separable, [m for m in model.modules() if isinstance(m, nn.Conv2d) and id(m) not in inside]


def test_structure(model: nn.Module) -> None:
    """First conv standard; every other conv depthwise-separable except the final 1x1 classifier (skeleton)."""
    separable, plain = separable_and_plain(model)
    stem, classifier = plain
    assert stem is next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert (stem.in_channels, stem.out_channels, stem.kernel_size, stem.groups) == (1, 64, (3, 3), 1)
    assert (classifier.in_channels, classifier.kernel_size) == (2, (1, 1))
    for s in separable:
        assert isinstance(s.depthwise, WSConv2d)
        assert s.depthwise.groups == s.depthwise.in_channels and s.depthwise.bias is None
        assert s.pointwise.kernel_size == (1, 1) and s.pointwise.bias is not None
    # 2 per SD block (4 encoder + 4 decoder), 4 up-convs (2x2), 1 head conv3x3 -> 2
    assert len(separable) == 21
    assert sorted(s.depthwise.kernel_size[0] for s in separable).count(2) == 4


def test_literal_preset_follows_sec_3_2() -> None:
    """Every conv but the first depthwise-separable, prediction layer included; encoder Block5 one separable
    layer with dropout; decoder Block 5 two SD blocks and two separable layers."""
    model = unetzoo.create_model("sd_unet", preset="literal")
    separable, plain = separable_and_plain(model)
    assert plain == [model.stem[0]]
    # 2 per SD block (3 encoder, 4 + 1 decoder), the Block5 layer, 4 up-convs, the layer to 2, the prediction
    assert len(separable) == 23
    prediction = model.head[-1]
    assert isinstance(prediction, SeparableConv2d) and isinstance(prediction.depthwise, WSConv2d)
    assert (prediction.depthwise.in_channels, prediction.depthwise.kernel_size) == (2, (3, 3))
    block5 = [model.decoder[-1], model.tail]  # "Two SD-UNet blocks"
    assert [(b[0][0].depthwise.in_channels, b[1][0].pointwise.out_channels) for b in block5] == [(128, 64), (64, 64)]
    layer, dropout = model.encoder[-1]  # "A final depthwise separable layer with a dropout layer"
    assert isinstance(layer[0], SeparableConv2d) and isinstance(layer[1], nn.ReLU) and dropout.p == 0.5
    assert (layer[0].depthwise.in_channels, layer[0].pointwise.out_channels) == (512, 1024)
    assert len([m for m in model.modules() if isinstance(m, nn.GroupNorm)]) == 9  # Block1, 3 down, 5 up
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="bottleneck must be one of"):
        unetzoo.create_model("sd_unet", bottleneck="pair")


def test_norm_and_dropout(model: nn.Module) -> None:
    gns = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(gns) == 9  # one per block: Block1, 4 SD blocks down (incl. bottleneck), 4 up
    assert all(g.num_groups == 32 for g in gns)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.5, 0.5]


def test_outputs_logits() -> None:
    model = unetzoo.create_model("sd_unet", classes=3).eval()
    assert not any(isinstance(m, nn.Sigmoid | nn.Softmax) for m in model.modules())
    with torch.no_grad():
        assert model(torch.randn(1, 1, 32, 32)).shape == (1, 3, 32, 32)


def test_widths_set_depth_and_channels() -> None:
    small = unetzoo.create_model("sd_unet", widths=(32, 64, 96))
    assert small.input_multiple == 4 and len(small.encoder) == len(small.decoder) == 2
    assert small.stem[0].out_channels == 32 and small.encoder[-1][0][0].pointwise.out_channels == 96
    assert small(torch.randn(2, 1, 20, 28)).shape == (2, 1, 20, 28)
