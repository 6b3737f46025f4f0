"""U-Net and wide U-Net: exact parameter targets, overlap-tile size math, MAC targets (docs/models.md)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import unetzoo
from unetzoo.bench.profile import count_params
from unetzoo.models import get_entry
from unetzoo.models.unet import UNet

TINY = (4, 8, 16, 32, 64)  # cheap widths for size checks; the size math depends on the depth only


@pytest.mark.parametrize(
    ("name", "preset", "in_channels", "classes", "params"),
    [
        ("unet", "original", 1, 2, 31_030_658),
        ("unet", "same", 1, 2, 31_030_658),
        ("unet", "pyconv-paper", 3, 1, 7_765_985),
        ("unet", "unetsharp-paper", 3, 1, 7_852_545),
        ("unet_wide", "unetsharp-paper", 3, 1, 9_392_916),
    ],
)
def test_exact_params(name: str, preset: str, in_channels: int, classes: int, params: int) -> None:
    model = unetzoo.create_model(name, preset=preset)
    assert (model.in_channels, model.classes) == (in_channels, classes)
    assert count_params(model) == params


def test_defaults_and_shared_class() -> None:
    assert get_entry("unet").default_preset == "original"
    assert type(unetzoo.create_model("unet_wide")) is UNet
    original = unetzoo.create_model("unet")
    assert original.padding == "valid"
    assert isinstance(original.dropout, torch.nn.Dropout) and original.dropout.p == 0.5
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in original.modules())
    assert isinstance(unetzoo.create_model("unet", preset="pyconv-paper").dropout, torch.nn.Identity)


def test_overlap_tile_math() -> None:
    model = UNet(widths=TINY)
    assert model.context == 92
    assert model.overlap_tile(388) == (572, 388)
    assert model.padding_for(388, 388) == (92, 92, 92, 92)
    for size in range(16, 300):
        tile_in, tile_out = model.overlap_tile(size)
        assert tile_in % 16 == 124 % 16 and tile_in - tile_out == 2 * 92
        assert tile_out - 16 < size <= tile_out  # the smallest tile that covers the image
    assert model.padding_for(16, 23) == (94, 94, 98, 99)  # 16 -> 204 (out 20), 23 -> 220 (out 36)


def test_paper_tile_572_gives_388() -> None:
    model = UNet(widths=TINY).eval()
    with torch.no_grad():
        assert model.forward_padded(torch.randn(1, 1, 572, 572)).shape == (1, 2, 388, 388)


def test_overlap_tiles_are_seamless() -> None:
    """A valid-conv output pixel is the same whichever tile computes it (tiles offset by 2^depth px)."""
    torch.manual_seed(0)
    model = UNet(widths=TINY).eval()
    x = torch.randn(1, 1, 220, 220)  # tile of output 36; its two 204-px sub-tiles give 20 px each
    with torch.no_grad():
        full = model.forward_padded(x)
        a = model.forward_padded(x[..., :204, :204])
        b = model.forward_padded(x[..., 16:, 16:])
    assert full.shape[-2:] == (36, 36)
    torch.testing.assert_close(a, full[..., :20, :20])
    torch.testing.assert_close(b, full[..., 16:, 16:])


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("up", ["transpose", "bilinear"])
def test_any_size(padding: str, up: str) -> None:
    model = UNet(3, 2, widths=TINY, padding=padding, up=up, norm="batch")
    for h, w in [(16, 23), (37, 50)]:
        assert model(torch.randn(2, 3, h, w)).shape == (2, 2, h, w)


def test_same_padding_uses_input_multiple() -> None:
    model = UNet(widths=TINY, padding="same")
    assert model.context == 0
    top, bottom, left, right = model.padding_for(16, 23)
    assert (16 + top + bottom) % 16 == 0 and (23 + left + right) % 16 == 0
    assert model.output_offset(top, left) == (top, left)


@pytest.mark.parametrize("option", [{"padding": "full"}, {"up": "nearest"}, {"norm": "layer"}, {"widths": (8,)}])
def test_bad_options(option: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        UNet(**{"widths": TINY, **option})


def test_paper_tile_conv_macs() -> None:
    """Conv MACs of the 572 -> 388 tile: 150.43 G without bias adds (+0.13 G bias = the spec's 150.56 G)."""
    with torch.device("meta"):
        model = unetzoo.create_model("unet").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.forward_padded(torch.empty(1, 1, 572, 572, device="meta"))
    assert counter.get_total_flops() / 2e9 == pytest.approx(150.428, rel=1e-4)


@pytest.mark.parametrize(
    ("name", "preset", "size", "gmacs"),
    [("unet", "pyconv-paper", 512, 48.57), ("unet", "unetsharp-paper", 96, 1.972), ("unet_wide", None, 96, 2.358)],
)
def test_paper_macs_pt_convention(name: str, preset: str | None, size: int, gmacs: float) -> None:
    """The "pt" (ptflops module-hook) MACs printed in the PyConvU-Net and UNet# tables."""
    ptflops = pytest.importorskip("ptflops")
    with torch.device("meta"):
        model = unetzoo.create_model(name, preset=preset)
    macs, _ = ptflops.get_model_complexity_info(
        model,
        (3, size, size),
        as_strings=False,
        print_per_layer_stat=False,
        backend="pytorch",
        backend_specific_config={"count_functional": False},  # count modules only, as the papers' counter
    )
    assert macs / 1e9 == pytest.approx(gmacs, rel=5e-4)
