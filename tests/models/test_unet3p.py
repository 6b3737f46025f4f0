"""UNet 3+ (Huang et al., ICASSP 2020): exact parameters, full-scale deep supervision, its CGM (Sec. 2.3)."""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.bench.profile import count_params
from unetzoo.layers.cgm import ClassificationGuidance
from unetzoo.models.unet3p import UNet3Plus

BASE = 26_971_777
SIDE_HEADS = 3 * (320 * 9 + 1) + (1024 * 9 + 1)  # 3x3 heads on X_De^2..4 and X_En^5, 3 -> 1
CGM = 1024 * 2 + 2


@pytest.mark.parametrize(
    ("deep_supervision", "cgm", "expected"),
    [(False, False, BASE), (True, False, BASE + SIDE_HEADS), (False, True, BASE + CGM), (True, True, 26_991_687)],
)
def test_exact_params(deep_supervision: bool, cgm: bool, expected: int) -> None:
    assert count_params(UNet3Plus(3, 1, deep_supervision=deep_supervision, cgm=cgm)) == expected


def test_presets() -> None:
    assert count_params(unetzoo.create_model("unet3p")) == BASE
    full = unetzoo.create_model("unet3p", preset="ds_cgm")
    assert full.deep_supervision and full.cgm is not None
    assert count_params(full) == 26_991_687


def test_deep_supervision_branches_final_last() -> None:
    torch.manual_seed(0)
    model = UNet3Plus(1, 2, deep_supervision=True).eval()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        final = model(x)
        model.training = True  # side outputs with eval-mode BN (children stay in eval)
        outs = model(x)
    assert len(outs) == 5
    assert all(o.shape == (1, 2, 32, 32) for o in outs)
    torch.testing.assert_close(outs[-1], final, rtol=0, atol=0)


def test_cgm_sets_class_logits_and_trains() -> None:
    torch.manual_seed(0)
    model = UNet3Plus(1, 1, deep_supervision=True, cgm=True)
    outs = model(torch.randn(2, 1, 32, 32))
    logits = model.last_class_logits
    assert logits is not None and logits.shape == (2, 2)
    loss = sum(o.mean() for o in outs) + torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    )
    loss.backward()
    assert model.cgm is not None and model.cgm.classifier[1].weight.grad is not None


@pytest.mark.parametrize("has_object", [True, False])
def test_trained_cgm_gates_model_output_in_eval(has_object: bool) -> None:
    torch.manual_seed(0)
    guided = UNet3Plus(1, 1, cgm=True).eval()
    plain = UNet3Plus(1, 1).eval()
    plain.load_state_dict(guided.state_dict(), strict=False)  # same weights, no CGM
    assert guided.cgm is not None
    with torch.no_grad():
        conv = guided.cgm.classifier[1]
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([0.0, 1.0] if has_object else [1.0, 0.0]))
        x = torch.randn(1, 1, 32, 32)
        torch.testing.assert_close(guided(x), plain(x), rtol=0, atol=0)  # untrained: never gates
        guided.cgm.mark_trained()
        out = guided(x)
        expected = plain(x) if has_object else torch.full_like(out, guided.cgm.no_object_logit)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_cgm_gate_is_per_image_eval_only_and_trained_only() -> None:
    cgm = ClassificationGuidance(8)
    seg = torch.randn(2, 3, 4, 4)
    class_logits = torch.tensor([[2.0, -1.0], [-1.0, 2.0]])  # image 0: no object; image 1: object
    assert torch.equal(cgm.eval().gate(seg, class_logits), seg)  # not trained yet
    cgm.mark_trained()
    assert torch.equal(cgm.train().gate(seg, class_logits), seg)
    gated = cgm.eval().gate(seg, class_logits)
    assert torch.equal(gated[1], seg[1])
    assert torch.equal(gated[0], torch.full_like(seg[0], cgm.no_object_logit))
    assert torch.sigmoid(gated[0]).max() < 1e-8  # empty mask at any threshold
    assert cgm("final", torch.randn(2, 8, 5, 7)).shape == (2, 2)


@pytest.mark.parametrize("widths", [(8, 16, 32), (8, 16, 32, 64)])
def test_widths_set_depth(widths: tuple[int, ...]) -> None:
    model = UNet3Plus(1, 2, widths=widths, deep_supervision=True, cgm=True)
    assert model.input_multiple == 2 ** (len(widths) - 1)
    assert len(model.decoder) == len(widths) - 1 and model.head.in_channels == 64 * len(widths)
    outs = model(torch.randn(2, 1, 24, 20))
    assert len(outs) == len(widths) and all(o.shape == (2, 2, 24, 20) for o in outs)
    assert model.last_class_logits is not None and model.last_class_logits.shape == (2, 2)
