"""ResNet34-UNet (LinkNet decoder): exact size, ResNet encoder, additive skips, tiny-input padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import unetzoo
from unetzoo.bench.profile import count_params, profile
from unetzoo.layers.resnet import BasicBlock, ResNetEncoder
from unetzoo.models.resnet34_unet import ResNet34UNet


def test_paper_preset_has_exact_params() -> None:
    model = unetzoo.create_model("resnet34_unet")
    assert (model.in_channels, model.classes) == (3, 1)
    assert count_params(model) == 21_656_897  # spec B5


@pytest.mark.parametrize(("blocks", "params"), [((3, 4, 6, 3), 21_284_672), ((2, 2, 2, 2), 11_176_512)])
def test_encoder_matches_torchvision_layout(blocks: tuple[int, ...], params: int) -> None:
    # torchvision resnet34 / resnet18 parameter counts minus the 1000-class FC (513,000)
    assert count_params(ResNetEncoder(3, blocks)) == params


def test_macs_match_spec() -> None:
    # "conv" MACs scale exactly with H*W: 64x64 x 64 = 512x512. Spec B5: pt 24.3 G @3x512^2.
    macs = profile(ResNet34UNet(3, 1), (1, 3, 64, 64), memory=False).macs * 64
    assert macs / 1e9 == pytest.approx(24.3, rel=0.02)


def test_encoder_features_and_projections() -> None:
    encoder = ResNetEncoder(2)
    feats = encoder(torch.randn(1, 2, 64, 96))
    assert [f.shape for f in feats] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6), (1, 512, 2, 3)]
    assert [len(s) for s in encoder.stages] == [3, 4, 6, 3]
    projections = [isinstance(b.shortcut, nn.Identity) for s in encoder.stages for b in s if isinstance(b, BasicBlock)]
    assert projections.count(False) == 3  # only the first block of stages 2-4
    assert all(isinstance(b.shortcut, nn.Identity) for b in encoder.stages[0])


def test_decoder_widths_and_head() -> None:
    model = ResNet34UNet(3, 4)
    assert model.input_multiple == 32
    assert [b[-1][0].out_channels for b in model.decoder] == [256, 128, 64, 64]  # match the added skips
    assert [b[0][0].out_channels for b in model.decoder] == [128, 64, 32, 16]  # 1x1 to in/4
    deconv = model.head[0]
    assert isinstance(deconv, nn.ConvTranspose2d) and deconv.kernel_size == (4, 4) and deconv.out_channels == 32
    assert model.head[-1].out_channels == 4


def test_tiny_batch1_input_trains() -> None:
    model = ResNet34UNet(1, 1).train()
    assert model.padding_for(16, 16) == (24, 24, 24, 24)  # to 64: the stride-32 map is 2x2, not 1x1
    assert model.padding_for(100, 132) == (14, 14, 14, 14)
    out = model(torch.randn(1, 1, 16, 16))
    assert out.shape == (1, 1, 16, 16)
    out.mean().backward()
