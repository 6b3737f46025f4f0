"""Attention U-Net (2D baseline): exact size, attention-gate behaviour and structure."""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.bench.profile import count_params, profile
from unetzoo.layers.attention import AttentionGate
from unetzoo.models.attention_unet import AttentionUNet


def test_paper_preset_has_exact_params() -> None:
    model = unetzoo.create_model("attention_unet")
    assert (model.in_channels, model.classes) == (3, 1)
    assert count_params(model) == 34_878_573  # spec B3 (PyConvU-Net table: 34.88M)


def test_macs_match_spec() -> None:
    # "conv" MACs scale exactly with H*W: 64x64 x 64 = 512x512. Spec B3: pt 266.5 G @3x512^2 (conv is ~0.4% lower).
    macs = profile(AttentionUNet(3, 1), (1, 3, 64, 64), memory=False).macs * 64
    assert macs / 1e9 == pytest.approx(266.5, rel=0.02)


def test_gate_output_shape_and_coefficients_in_unit_interval() -> None:
    torch.manual_seed(0)
    gate = AttentionGate(gate_channels=6, skip_channels=4, inter_channels=2)
    g, x = torch.randn(2, 6, 8, 10), torch.randn(2, 4, 8, 10)
    alpha = gate.coefficients(g, x)
    assert alpha.shape == (2, 1, 8, 10)
    assert alpha.min() >= 0 and alpha.max() <= 1
    out = gate(g, x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x * alpha)


def test_gate_params() -> None:
    gate = AttentionGate(6, 4, 2)  # W_g 6*2+2, W_x 4*2+2, psi 2*1+1; BN 2+2, 2+2, 1+1
    assert count_params(gate) == (12 + 2) + (8 + 2) + (2 + 1) + 4 + 4 + 2


@pytest.mark.parametrize(("bias", "expected"), [(-30.0, 0.0), (30.0, 1.0)])
def test_gate_closes_and_opens_with_psi_bias(bias: float, expected: float) -> None:
    gate = AttentionGate(3, 3, 2).eval()
    with torch.no_grad():
        gate.psi[1].bias.fill_(bias)  # BN after the psi conv
        x = torch.randn(1, 3, 5, 5)
        torch.testing.assert_close(gate(torch.randn(1, 3, 5, 5), x), x * expected)


def test_structure_gates_after_upsampling_with_half_inter_channels() -> None:
    model = AttentionUNet(3, 1)
    assert model.input_multiple == 16
    for stage, width in zip(model.decoder, (512, 256, 128, 64), strict=True):
        # gating signal is the upsampled map (width, not 2*width): the documented deviation from the paper
        assert stage.gate.w_g[0].in_channels == width
        assert stage.gate.w_x[0].in_channels == width
        assert stage.gate.w_g[0].out_channels == width // 2
        assert stage.conv[0][0].in_channels == 2 * width  # concat [gated skip, up]
    assert isinstance(model.decoder[0].up[0], torch.nn.Upsample)


def test_small_widths_and_validation() -> None:
    model = AttentionUNet(1, 2, widths=(4, 8, 16))
    assert model.input_multiple == 4
    assert model(torch.randn(1, 1, 17, 23)).shape == (1, 2, 17, 23)
    with pytest.raises(ValueError, match="two levels"):
        AttentionUNet(1, 1, widths=(8,))
