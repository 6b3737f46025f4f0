"""FCN-8s (UNET-ZOO baseline): exact size, VGG16 encoder, transposed-conv decoder with pool4/pool3 skips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import unetzoo
from unetzoo.bench.profile import count_params, profile
from unetzoo.models.fcn8s import FCN8s, FCNDecoderStage


def test_paper_preset_has_exact_params() -> None:
    model = unetzoo.create_model("fcn8s")
    assert (model.in_channels, model.classes) == (3, 1)
    assert count_params(model) == 18_643_713  # spec B4
    assert count_params(model.encoder) == 14_714_688  # VGG16 conv layers with biases


def test_macs_match_spec() -> None:
    # "conv" MACs scale exactly with H*W: 64x64 x 64 = 512x512. Spec B4: pt 85.8 G @3x512^2.
    macs = profile(FCN8s(3, 1), (1, 3, 64, 64), memory=False).macs * 64
    assert macs / 1e9 == pytest.approx(85.8, rel=0.02)


def test_structure() -> None:
    model = FCN8s(3, 1)
    assert model.input_multiple == 32
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.encoder.modules())
    deconvs = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [512, 256, 128, 64, 32]
    assert all(d.kernel_size == (3, 3) and d.stride == (2, 2) for d in deconvs)
    assert model.head.kernel_size == (1, 1)


def test_pool4_and_pool3_are_added() -> None:
    model = FCN8s(1, 1).eval()
    seen: list[tuple[torch.Size, torch.Size | None]] = []
    for stage in model.decoder:
        stage.register_forward_hook(
            lambda _m, args, out: seen.append((out.shape, args[1].shape if len(args) > 1 else None))
        )
    with torch.no_grad():
        model(torch.randn(1, 1, 64, 96))
    # (output, skip) per stage: pool4 at /16, pool3 at /8, no skip after
    assert seen[0] == ((1, 512, 4, 6), (1, 512, 4, 6))
    assert seen[1] == ((1, 256, 8, 12), (1, 256, 8, 12))
    assert [s for _, s in seen[2:]] == [None, None, None]
    assert seen[-1][0] == (1, 32, 64, 96)


def test_stage_order_is_deconv_relu_add_bn() -> None:
    torch.manual_seed(0)
    stage = FCNDecoderStage(4, 2).eval()
    x, skip = torch.randn(1, 4, 3, 5), torch.randn(1, 2, 6, 10)
    with torch.no_grad():
        torch.testing.assert_close(stage(x, skip), stage.bn(torch.relu(stage.deconv(x)) + skip))
        torch.testing.assert_close(stage(x), stage.bn(torch.relu(stage.deconv(x))))
