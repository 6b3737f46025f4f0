"""The contract every registered model honours, parametrized over ``list_models()`` (as smp/timm do).

Family-specific checks (exact parameter targets, pruning, WS folding, ...) live in test_<family>.py.
"""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.losses import training_losses
from unetzoo.models import get_entry, registry

MODELS = unetzoo.list_models()


def test_all_families_registered() -> None:
    expected = {
        "unet", "unet_wide", "unetpp", "unet3p", "unet_sharp", "attention_unet",
        "fcn8s", "resnet34_unet", "sd_unet", "pyconv_unet", "ulite",
    }  # fmt: skip
    assert expected <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(1, 1, 64, 64), (2, 3, 100, 132), (1, 1, 16, 23)])
def test_forward_backward_any_size(name: str, shape: tuple[int, int, int, int]) -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model(name, in_channels=shape[1], classes=2)
    x = torch.randn(shape)
    out = model(x)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (shape[0], 2, *shape[2:])
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", MODELS)
def test_presets_build_and_run(name: str) -> None:
    for preset in unetzoo.list_presets(name):
        model = unetzoo.create_model(name, preset=preset).eval()
        x = torch.randn(1, model.in_channels, 32, 48)
        with torch.no_grad():
            assert model(x).shape == (1, model.classes, 32, 48)


@pytest.mark.parametrize("name", MODELS)
def test_channels_last_is_the_same_function(name: str) -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model(name, in_channels=3, classes=2).eval()
    x = torch.randn(1, 3, 40, 56)
    outputs = {}
    for layout in (False, True):
        model.channels_last = layout
        assert model.runs_channels_last(x) is layout
        with torch.inference_mode():
            outputs[layout] = model(x)
    torch.testing.assert_close(outputs[True], outputs[False], rtol=1e-4, atol=1e-5)
    assert outputs[True].is_contiguous()  # the caller gets an ordinary NCHW tensor back


@pytest.mark.parametrize("name", MODELS)
def test_deterministic_under_seed(name: str) -> None:
    def build() -> torch.nn.Module:
        torch.manual_seed(123)
        return unetzoo.create_model(name, in_channels=1, classes=1).eval()

    a, b = build(), build()
    x = torch.randn(1, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("name", [n for n in MODELS if type(unetzoo.create_model(n)).supports.deep_supervision])
def test_deep_supervision_outputs(name: str) -> None:
    """Side outputs come at full resolution, or at a branch's own scale (UNet# Fig. 2), and the training loss
    compares every one of them with the ground truth."""
    model = unetzoo.create_model(name, in_channels=1, classes=2, deep_supervision=True)
    x = torch.randn(2, 1, 40, 56)
    outs = model.train()(x)
    assert isinstance(outs, list) and len(outs) >= 2
    assert outs[-1].shape == (2, 2, 40, 56)
    assert all(o.shape[:2] == (2, 2) and o.shape[2] <= 40 and o.shape[3] <= 56 for o in outs)
    _, loss_fn = training_losses("ce+dice", "multiclass", model)
    loss = loss_fn(outs, torch.randint(0, 2, (2, 40, 56)))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        final = model.eval()(x)
    assert isinstance(final, torch.Tensor) and final.shape == (2, 2, 40, 56)


@pytest.mark.parametrize("name", MODELS)
def test_claims_hold(name: str) -> None:
    """A model that claims to be traceable must trace and give the eager output."""
    model = unetzoo.create_model(name, in_channels=1, classes=1).eval()
    supports = type(model).supports
    if not supports.traceable:
        pytest.xfail(f"{name} declares traceable=False")  # reported, never counted as a pass
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
        torch.testing.assert_close(traced(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_registry_metadata(name: str) -> None:
    entry = get_entry(name)
    assert entry.paper
    assert entry.default_preset in entry.presets


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(unetzoo.UnetzooError, match=r"unknown model 'nope'.*ulite"):
        unetzoo.create_model("nope")


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(unetzoo.UnetzooError, match="no preset"):
        unetzoo.create_model(MODELS[0], preset="does-not-exist")


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(unetzoo.UnetzooError, match=r"cannot build 'ulite' with options .*'no_such_option'"):
        unetzoo.create_model("ulite", no_such_option=1)


def test_type_error_inside_a_constructor_is_not_called_bad_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a call the signature rejects is the user's fault; a TypeError raised by the constructor is a bug."""

    def broken(in_channels: int = 1, classes: int = 1) -> unetzoo.SegmentationModel:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")

    monkeypatch.setitem(registry._REGISTRY, "broken", registry.ModelEntry("broken", broken, "test", {"default": {}}))
    with pytest.raises(TypeError, match="unsupported operand") as info:
        unetzoo.create_model("broken")
    assert not isinstance(info.value, unetzoo.UnetzooError)
    with pytest.raises(unetzoo.UnetzooError, match="cannot build 'broken'"):
        unetzoo.create_model("broken", widths=(8, 16))


def test_deep_supervision_on_a_model_without_heads_is_a_clear_error() -> None:
    with pytest.raises(unetzoo.UnetzooError, match=r"'ulite' has no deep-supervision heads.*unet3p, unet_sharp"):
        unetzoo.create_model("ulite", deep_supervision=True)
