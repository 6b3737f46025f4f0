"""UNet++: exact parameter targets, nested node wiring, deep-supervision heads (docs/models.md)."""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.bench.profile import count_params
from unetzoo.models.unetpp import UNetPlusPlus

TINY = (4, 8, 16, 32, 64)


@pytest.mark.parametrize(("preset", "params", "heads"), [("pytorch", 9_163_329, 1), ("pytorch-ds", 9_163_428, 4)])
def test_exact_params_and_heads(preset: str, params: int, heads: int) -> None:
    model = unetzoo.create_model("unetpp", preset=preset)
    assert (model.in_channels, model.classes) == (3, 1)
    assert count_params(model) == params
    assert 1 + len(model.side_heads) == heads


def test_node_inputs_are_dense_skips_plus_upsampled() -> None:
    """X^{i,j} takes j * w_i (X^{i,0..j-1}) + w_{i+1} (bilinear-upsampled X^{i+1,j-1}) channels."""
    widths = (32, 64, 128, 256, 512)
    model = UNetPlusPlus(widths=widths)
    for j, column in enumerate(model.nodes, start=1):
        assert len(column) == len(widths) - j
        for i, node in enumerate(column):
            assert node.conv[0][0].in_channels == j * widths[i] + widths[i + 1]
            assert isinstance(node.up, torch.nn.Upsample) and node.up.align_corners


def test_deep_supervision_outputs_final_last() -> None:
    torch.manual_seed(0)
    model = UNetPlusPlus(1, 2, widths=TINY, deep_supervision=True).train()
    x = torch.randn(2, 1, 20, 27)
    outs = model(x)
    assert isinstance(outs, list) and len(outs) == 4
    assert all(o.shape == (2, 2, 20, 27) for o in outs)
    model.deep_supervision = False  # same train-mode pass without side heads: the final output only
    torch.testing.assert_close(model(x), outs[-1])
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 2, 20, 27)


def test_weights_load_with_or_without_deep_supervision() -> None:
    plain = UNetPlusPlus(widths=TINY)
    supervised = UNetPlusPlus(widths=TINY, deep_supervision=True)
    missing, unexpected = supervised.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith("side_heads.") for k in missing)


@pytest.mark.parametrize(("preset", "size", "gmacs"), [("pytorch", 96, 4.869), ("pytorch-ds", 512, 138.5)])
def test_paper_macs_pt_convention(preset: str, size: int, gmacs: float) -> None:
    """MACs in the "pt" (ptflops module-hook) convention.

    The spec's numbers leave out the Upsample outputs (0.004 G at 96²), which ptflops counts on our
    nn.Upsample modules: hence rel 1e-3.
    """
    ptflops = pytest.importorskip("ptflops")
    with torch.device("meta"):
        model = unetzoo.create_model("unetpp", preset=preset)
    macs, _ = ptflops.get_model_complexity_info(
        model,
        (3, size, size),
        as_strings=False,
        print_per_layer_stat=False,
        backend="pytorch",
        backend_specific_config={"count_functional": False},  # count modules only, as the papers' counter
    )
    assert macs / 1e9 == pytest.approx(gmacs, rel=1e-3)
