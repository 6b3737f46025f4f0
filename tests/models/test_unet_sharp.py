"""UNet# (docs/models-spec.md §1 rows 4/4b, §5): exact params, deep supervision, pruning and CGM."""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.bench.profile import count_params
from unetzoo.models.unet_sharp import UNetSharp

SINGLE_HEAD = {1: 103_041, 2: 555_969, 3: 2_531_073}  # same in both presets
L4 = {"paper": 9_716_289, "code": 10_748_481}
DS8_CODE = 10_757_224


@pytest.mark.parametrize("preset", ["paper", "code"])
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_exact_params_per_level_and_preset(preset: str, level: int) -> None:
    model = unetzoo.create_model("unet_sharp", preset=preset, level=level)
    assert (model.in_channels, model.classes) == (3, 1)
    assert count_params(model) == SINGLE_HEAD.get(level, L4[preset])


def test_default_preset_is_paper_and_x40_feeds_x31_only() -> None:
    paper = unetzoo.create_model("unet_sharp")
    code = unetzoo.create_model("unet_sharp", preset="code")
    assert count_params(paper) == L4["paper"]
    fan_in = {n: (paper.nodes[n][0][0].in_channels, code.nodes[n][0][0].in_channels) for n in paper.nodes}
    assert {n: f for n, f in fan_in.items() if f[0] != f[1]} == {
        "x2_2": (512, 1024),
        "x1_3": (576, 1088),
        "x0_4": (576, 1088),
    }
    assert fan_in["x3_1"] == (768, 768) and fan_in["x0_3"] == (544, 544)


def test_ds8_params_and_branches() -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model("unet_sharp", preset="code", deep_supervision=True)
    assert count_params(model) == DS8_CODE
    x = torch.randn(2, 3, 32, 32)
    outs = model.train()(x)
    assert isinstance(outs, list) and len(outs) == 8
    assert all(o.shape == (2, 1, 32, 32) for o in outs)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 1, 32, 32)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_ds_branch_count_per_level(level: int) -> None:
    model = UNetSharp(1, 1, level=level, deep_supervision=True)
    assert len(model(torch.randn(1, 1, 16, 16))) == 2 * level


@pytest.mark.parametrize("preset", ["paper", "code"])
def test_prune_equals_branch_outputs(preset: str) -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model("unet_sharp", preset=preset, classes=2, deep_supervision=True).eval()
    x = torch.randn(1, 3, 20, 28)  # not a multiple of 16: the pruned nets keep the padding of the full net
    with torch.no_grad():
        model.training = True  # side outputs with eval-mode BN (children stay in eval)
        outs = model(x)
        model.training = False
        branch = {1: outs[0], 2: outs[1], 3: outs[2], 4: outs[-1]}  # [o1, o2, o3, o5, o6, o7, o8, o4]
        for level, expected in branch.items():
            pruned = model.prune(level)
            assert not pruned.training and not pruned.deep_supervision and pruned.level == level
            torch.testing.assert_close(pruned(x), expected, rtol=0, atol=0)


@pytest.mark.parametrize("preset", ["paper", "code"])
def test_pruned_params(preset: str) -> None:
    model = unetzoo.create_model("unet_sharp", preset=preset, deep_supervision=True)
    assert [count_params(model.prune(level)) for level in (1, 2, 3, 4)] == [*SINGLE_HEAD.values(), L4[preset]]


def test_prune_copies_weights() -> None:
    model = UNetSharp(3, 1, level=2, deep_supervision=True)
    pruned = model.prune(1)
    assert [n for n, _ in pruned.named_parameters()][-2:] == ["x0_heads.x0_1.weight", "x0_heads.x0_1.bias"]
    with torch.no_grad():
        pruned.encoder.stages[0][0][0].weight.add_(1.0)
    assert not torch.equal(pruned.encoder.stages[0][0][0].weight, model.encoder.stages[0][0][0].weight)


def test_prune_errors() -> None:
    single = UNetSharp(1, 1, level=3)
    with pytest.raises(ValueError, match="deep_supervision=True"):
        single.prune(2)
    with pytest.raises(ValueError, match=r"levels 1\.\.3"):
        single.prune(4)
    assert count_params(single.prune(3)) == count_params(single)
    with pytest.raises(ValueError, match="level must be"):
        UNetSharp(1, 1, level=5)


def test_prune_cgm() -> None:
    model = UNetSharp(1, 1, level=2, deep_supervision=True, cgm=True)
    assert model.prune(2).cgm is not None
    with pytest.warns(UserWarning, match="CGM"):
        assert model.prune(1).cgm is None


def test_cgm_class_logits_and_eval_gating() -> None:
    torch.manual_seed(0)
    model = UNetSharp(1, 1, level=2, cgm=True)
    assert model.cgm is not None and model.cgm.classifier[1].in_channels == 128  # reads X^{2,0}
    x = torch.randn(2, 1, 16, 16)
    model(x)
    assert model.last_class_logits is not None and model.last_class_logits.shape == (2, 2)
    with torch.no_grad():
        model.cgm.classifier[1].weight.zero_()
        model.cgm.classifier[1].bias.copy_(torch.tensor([1.0, 0.0]))  # "no object" for every image
        assert torch.equal(model.eval()(x), torch.full((2, 1, 16, 16), model.cgm.no_object_logit))
