"""PyConvU-Net (Li, Fan, Cai, BMC Bioinformatics 22:14, 2021) and PyConv2d (Duta et al. 2020).

Regression anchors for the presets (params, MACs at 3x512x512, see docs/pyconv_unet.md), the paper's
3.7M +-5% bar for the default preset, and the structure: pyramid levels, kernels and groups per depth,
same padding, concat widths, the standard stem conv, divisibility errors.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import unetzoo
from unetzoo.layers.pyconv import GROUPS, KERNELS, PyConv2d, level_channels
from unetzoo.models.pyconv_unet import PyConvUNet, PyConvUnit

PAPER_PARAMS = 3.7e6
PARAMS = {"paper": 3_676_353, "plain": 5_385_409}
GMACS = {"paper": (31.0756, 31.3060), "plain": (32.8246, 33.0566)}  # ("conv", "pt") at 3x512x512
SHAPE = (1, 3, 512, 512)


def meta_model(preset: str) -> PyConvUNet:
    with torch.device("meta"):
        model = unetzoo.create_model("pyconv_unet", preset=preset)
    assert isinstance(model, PyConvUNet)
    return model.eval()


def pyconvs(module: nn.Module) -> list[PyConv2d]:
    return [m for m in module.modules() if isinstance(m, PyConv2d)]


# -- PyConv2d ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_pyconv_levels_kernels_groups(levels: int) -> None:
    conv = PyConv2d(64, 128, levels)
    assert len(conv.levels) == levels
    assert [c.kernel_size[0] for c in conv.levels] == list(KERNELS[:levels])
    assert [c.groups for c in conv.levels] == list(GROUPS[:levels])
    assert [c.padding[0] for c in conv.levels] == [k // 2 for k in KERNELS[:levels]]
    assert all(c.bias is None for c in conv.levels)
    widths = level_channels(128, levels)
    assert [c.out_channels for c in conv.levels] == list(widths)
    expected = sum(64 // g * c * k * k for k, g, c in zip(KERNELS, GROUPS, widths, strict=False))
    assert sum(p.numel() for p in conv.parameters()) == expected


def test_pyconv_same_padding_keeps_size() -> None:
    x = torch.randn(2, 32, 13, 18)
    assert PyConv2d(32, 64, 4, split="pyramid")(x).shape == (2, 64, 13, 18)


def test_pyconv_splits() -> None:
    assert level_channels(64, 4, "pyconvresnet") == (16, 16, 16, 16)
    assert level_channels(32, 4, "pyramid") == (4, 4, 8, 16)  # the PyConvU-Net code's p/8, p/8, p/4, p/2
    assert level_channels(64, 3) == (16, 16, 32)
    assert level_channels(64, 2) == (32, 32)
    assert level_channels(64, 2, (1, 3)) == (16, 48)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((32, 32, 4), {"split": "pyconvresnet"}, r"16 groups.*output \(8\)"),
        ((3, 32, 4), {"split": "pyramid"}, r"groups.*input \(3\)"),
        ((64, 64, 5), {}, "levels must be in 1..4"),
        ((64, 62, 4), {}, "not divisible by the split"),
        ((64, 64, 4), {"split": "nope"}, "unknown PyConv split"),
        ((64, 64, 2), {"split": (1, 1, 1)}, "one positive weight per level"),
    ],
)
def test_pyconv_rejects_bad_configurations(args: tuple[int, ...], kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PyConv2d(*args, **kwargs)  # type: ignore[arg-type]


# -- presets: anchors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PARAMS)
def test_preset_exact_params(preset: str) -> None:
    model = meta_model(preset)
    assert (model.in_channels, model.classes) == (3, 1)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[preset]


def test_default_preset_reaches_the_paper_param_bar() -> None:
    assert unetzoo.list_presets("pyconv_unet")[0] == "paper"
    assert abs(PARAMS["paper"] / PAPER_PARAMS - 1) <= 0.05


@pytest.mark.parametrize("preset", PARAMS)
def test_preset_conv_macs(preset: str) -> None:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        meta_model(preset)(torch.empty(SHAPE, device="meta"))
    assert counter.get_total_flops() / 2e9 == pytest.approx(GMACS[preset][0], rel=1e-4)


@pytest.mark.parametrize("preset", PARAMS)
def test_preset_pt_macs(preset: str) -> None:
    ptflops = pytest.importorskip("ptflops")
    macs, _ = ptflops.get_model_complexity_info(
        meta_model(preset),
        SHAPE[1:],
        as_strings=False,
        print_per_layer_stat=False,
        backend_specific_config={"count_functional": False},  # module hooks only, as the paper's counter
    )
    assert macs / 1e9 == pytest.approx(GMACS[preset][1], rel=1e-4)


# -- structure ---------------------------------------------------------------------------------------


def depth_modules(model: PyConvUNet) -> list[list[nn.Module]]:
    """Encoder block and decoder stage of each depth (the deepest has no decoder stage)."""
    depths: list[list[nn.Module]] = [[block] for block in model.encoder]
    for d, stage in zip(reversed(range(len(model.widths) - 1)), model.decoder, strict=True):
        depths[d].append(stage)
    return depths


@pytest.mark.parametrize("preset", PARAMS)
def test_preset_levels_kernels_groups_per_depth(preset: str) -> None:
    model = meta_model(preset)
    for d, modules in enumerate(depth_modules(model)):
        convs = [c for m in modules for c in pyconvs(m)]
        assert len(convs) == (1 if d == 0 else 2) + (2 if d < len(model.widths) - 1 else 0)
        levels = model.pyramid_levels[d]
        for conv in convs:
            assert [c.kernel_size[0] for c in conv.levels] == list(KERNELS[:levels])
            assert [c.groups for c in conv.levels] == list(GROUPS[:levels])
            assert conv.out_channels == model.widths[d]


def test_preset_configurations() -> None:
    paper, plain = meta_model("paper"), meta_model("plain")
    assert (paper.widths, paper.pyramid_levels) == ((32, 64, 128, 256, 256), (4, 4, 4, 4, 3))
    assert (plain.widths, plain.pyramid_levels) == ((32, 64, 128, 256, 512), (4, 4, 4, 4, 4))


@pytest.mark.parametrize("preset", PARAMS)
def test_stem_is_a_standard_conv(preset: str) -> None:
    stem = meta_model(preset).encoder[0][0][0]
    assert isinstance(stem, nn.Conv2d) and not isinstance(stem, PyConv2d)
    assert (stem.in_channels, stem.out_channels, stem.kernel_size, stem.groups) == (3, 32, (3, 3), 1)


@pytest.mark.parametrize("up", ["transpose", "bilinear"])
def test_concat_channels_and_same_size(up: str) -> None:
    model = PyConvUNet(3, 2, widths=(32, 64, 128), levels=(4, 3, 2), up=up).eval()
    cats: list[tuple[int, ...]] = []
    sizes: list[tuple[torch.Size, torch.Size]] = []
    for stage in model.decoder:
        stage.conv.register_forward_pre_hook(lambda _m, args: cats.append(tuple(args[0].shape[1:])))
    for conv in pyconvs(model):
        conv.register_forward_hook(lambda _m, args, out: sizes.append((args[0].shape[2:], out.shape[2:])))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 48))
    assert out.shape == (1, 2, 32, 48)
    if up == "transpose":
        assert cats == [(128, 16, 24), (64, 32, 48)]  # [up (w_d), skip (w_d)]
    else:
        assert cats == [(128 + 64, 16, 24), (64 + 32, 32, 48)]  # [up (w_d+1), skip (w_d)]
    assert len(sizes) == 9 and all(size_in == size_out for size_in, size_out in sizes)


def test_paper_preset_keeps_256_at_the_deepest_up_conv_and_half_halves_it() -> None:
    """The text (Background) halves the channels at every up-convolution; at 3.7M the deepest keeps 256."""
    paper = meta_model("paper")
    assert [(s.up.in_channels, s.up.out_channels) for s in paper.decoder] == [
        (256, 256),
        (256, 128),
        (128, 64),
        (64, 32),
    ]
    with torch.device("meta"):
        half = unetzoo.create_model("pyconv_unet", up_width="half")
        plain_half = unetzoo.create_model("pyconv_unet", preset="plain", up_width="half")
    assert [(s.up.in_channels, s.up.out_channels) for s in half.decoder] == [
        (256, 128),
        (256, 128),
        (128, 64),
        (64, 32),
    ]
    assert half.decoder[0].conv[0][0].in_channels == 128 + 256  # [up, skip]
    assert sum(p.numel() for p in half.parameters()) == 3_349_569  # -9.5% vs the paper's 3.7M
    assert sum(p.numel() for p in plain_half.parameters()) == PARAMS["plain"]  # doubling widths: the same net
    out = PyConvUNet(3, 1, widths=(32, 64, 64), levels=(4, 3, 2), up_width="half")(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 1, 16, 16)


def test_bottleneck_unit() -> None:
    unit = PyConvUnit(128, 64, 3, "pyconvresnet", expansion=2)
    reduce, _, _, pyconv, _, _, expand, _, _ = unit
    assert (reduce.in_channels, reduce.out_channels, reduce.kernel_size) == (128, 32, (1, 1))
    assert (pyconv.in_channels, pyconv.out_channels, len(pyconv.levels)) == (32, 32, 3)
    assert (expand.in_channels, expand.out_channels) == (32, 64)
    assert unit(torch.randn(1, 128, 9, 11)).shape == (1, 64, 9, 11)


def test_bottleneck_bilinear_variant_runs() -> None:
    model = PyConvUNet(1, 2, widths=(64, 128, 256), levels=(4, 3, 2), expansion=2, split="pyramid", up="bilinear")
    assert model(torch.randn(2, 1, 20, 28)).shape == (2, 2, 20, 28)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": (4, 4)}, "one levels entry per width"),
        ({"up": "nearest"}, "unknown up"),
        ({"up_width": "quarter"}, "up_width"),
        ({"expansion": 3}, "expansion 3"),
        ({"split": "pyconvresnet"}, "16 groups"),  # 32 channels cannot take 4 x 8 with 16 groups
    ],
)
def test_model_rejects_bad_configurations(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PyConvUNet(3, 1, **kwargs)  # type: ignore[arg-type]
