"""UNet# (Qian et al. 2022): exact params (Table 1, Fig. 7), the skips of Sec. 2.1 / Eq. 1, deep supervision
(Sec. 2.2, Fig. 2), pruning (Sec. 2.4) and the classification-guided modules (Sec. 2.3)."""

from __future__ import annotations

import pytest
import torch

import unetzoo
from unetzoo.bench.profile import count_params
from unetzoo.layers.cgm import BranchGuidance, ConcatPoolClassifier
from unetzoo.layers.conv import ConvNormAct
from unetzoo.losses import training_losses
from unetzoo.models.unet_sharp import UNetSharp

SINGLE_HEAD = {1: 103_041, 2: 555_969, 3: 2_531_073}  # same in both presets
L4 = {"paper": 9_716_289, "code": 10_748_481}
DS8_CODE = 10_757_224
DS8_PAPER = 9_725_032
PAPER_CGMS = 664_848  # the eight CGMs of Sec. 2.3 at L4, 3 -> 1


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


def test_unet3p_style_cgm_class_logits_and_eval_gating() -> None:
    torch.manual_seed(0)
    model = UNetSharp(1, 1, level=2, cgm=True)
    assert model.cgm is not None and model.cgm.classifier[1].in_channels == 128  # reads X^{2,0}
    x = torch.randn(2, 1, 16, 16)
    model(x)
    assert model.last_class_logits is not None and model.last_class_logits.shape == (2, 2)
    with torch.no_grad():
        model.cgm.classifier[1].weight.zero_()
        model.cgm.classifier[1].bias.copy_(torch.tensor([1.0, 0.0]))  # "no object" for every image
        assert model.eval()(x).abs().max() < 20  # untrained: no gating
        model.cgm.mark_trained()
        assert torch.equal(model.eval()(x), torch.full((2, 1, 16, 16), model.cgm.no_object_logit))


# -- the paper's eight CGMs (Sec. 2.3, Fig. 3) ---------------------------------------------------------


def test_paper_cgms_params_and_structure() -> None:
    model = unetzoo.create_model("unet_sharp", preset="ds_cgm")
    assert count_params(model) == DS8_PAPER + PAPER_CGMS == 10_389_880
    assert isinstance(model.cgm, BranchGuidance) and model.cgm.activation == "softmax"
    classifiers = dict(model.cgm.classifiers.items())
    assert sorted(classifiers) == ["x0_1", "x0_2", "x0_3", "x0_4", "x1_3", "x2_2", "x3_1", "x4_0"]  # all 8 branches
    linears = {name: [m for m in c.modules() if isinstance(m, torch.nn.Linear)] for name, c in classifiers.items()}
    # green: two Linear (hidden = the branch's width), on X4,0 and X3,1; blue: one Linear on the six others
    assert [(lin.in_features, lin.out_features) for lin in linears["x4_0"]] == [(1024, 512), (512, 2)]
    assert [(lin.in_features, lin.out_features) for lin in linears["x3_1"]] == [(512, 256), (256, 2)]
    assert {n: [(lin.in_features, lin.out_features) for lin in ls] for n, ls in linears.items() if len(ls) == 1} == {
        "x2_2": [(256, 2)],
        "x1_3": [(128, 2)],
        "x0_1": [(64, 2)],
        "x0_2": [(64, 2)],
        "x0_3": [(64, 2)],
        "x0_4": [(64, 2)],
    }
    assert count_params(UNetSharp(cgm="paper")) == L4["paper"] + 258  # the final branch's blue CGM alone


def test_paper_cgm_pools_avg_and_max() -> None:
    classifier = ConcatPoolClassifier(3).eval()
    x = torch.zeros(1, 3, 4, 4)
    x[0, :, 0, 0] = 8.0  # mean 0.5, max 8
    pooled = classifier[0](x)
    assert torch.equal(pooled, torch.tensor([[0.5, 0.5, 0.5, 8.0, 8.0, 8.0]]))


def test_paper_cgms_score_every_branch_and_all_train() -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model("unet_sharp", preset="ds_cgm", in_channels=1, widths=(8, 16, 32, 64, 128))
    _, loss_fn = training_losses("bce+dice", "binary", model)
    target = torch.zeros(2, 32, 32, dtype=torch.long)
    target[1, 4:9, 4:9] = 1
    outs = model.train()(torch.randn(2, 1, 32, 32))
    assert model.cgm is not None and sorted(model.cgm.scores) == sorted(model.cgm.classifiers)
    assert not model.cgm.trained
    loss_fn(outs, target).backward()
    assert model.cgm.trained and int(model.cgm.trained_steps) == 1
    for name, classifier in model.cgm.classifiers.items():
        assert classifier[-1].weight.grad is not None and classifier[-1].weight.grad.abs().sum() > 0, name


def test_paper_cgm_gates_each_branch_by_its_own_decision() -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model("unet_sharp", preset="ds_cgm", in_channels=1, widths=(8, 16, 32, 64, 128)).eval()
    assert model.cgm is not None
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        final = model.cgm.classifiers["x0_4"][-1]
        final.weight.zero_()
        final.bias.copy_(torch.tensor([1.0, 0.0]))  # X0,4's CGM: "no object"
        ungated = model(x)
        assert (ungated != model.cgm.no_object_logit).all()  # untrained: it says "no object" but does not gate
        model.cgm.mark_trained()
        assert torch.equal(model(x), torch.full_like(ungated, model.cgm.no_object_logit))
        pruned = model.prune(3)  # X0,3's CGM comes along and decides for the pruned net
        assert isinstance(pruned.cgm, BranchGuidance) and pruned.cgm.trained
        assert sorted(pruned.cgm.classifiers) == ["x0_3"]
        model.cgm.classifiers["x0_3"][-1].bias.copy_(torch.tensor([-50.0, 50.0]))
        pruned = model.prune(3)
        assert (pruned(x) != model.cgm.no_object_logit).all()  # "object" for both images: not gated


# -- Eq. 1 and Sec. 2.2 readings -------------------------------------------------------------------------


def test_full_scale_skips_through_f_of_eq1() -> None:
    literal = unetzoo.create_model("unet_sharp", preset="code", full_scale_channels=32)
    assert count_params(literal) == 10_159_617
    assert count_params(unetzoo.create_model("unet_sharp", preset="code", full_scale_channels=32, level=3)) == 2_503_809
    links = dict(literal.links.items())
    # every skip two or more rows up (k >= 2 in Eq. 1) has its f: 10 at L4 with the links out of X4,0
    assert len(links) == 10 and all(isinstance(m, ConvNormAct) and m[0].out_channels == 32 for m in links.values())
    assert links["x4_0_to_x0_4"][0].in_channels == 512 and "x1_0_to_x0_1" not in links
    assert literal.nodes["x0_4"][0][0].in_channels == 32 * 4 + 64 + 3 * 32  # dense 4 x 32, up(X1,3) 64, 3 links of 32
    assert len(unetzoo.create_model("unet_sharp").links) == 0  # default: raw channels, as the released code
    out = UNetSharp(1, 1, level=3, full_scale_channels=8, widths=(8, 16, 32, 64))(torch.randn(2, 1, 24, 24))
    assert out.shape == (2, 1, 24, 24)


def test_head_relu_of_sec_2_2() -> None:
    torch.manual_seed(0)
    model = UNetSharp(1, 1, level=2, deep_supervision=True, head_relu=True, widths=(8, 16, 32))
    assert count_params(model) == count_params(UNetSharp(1, 1, level=2, deep_supervision=True, widths=(8, 16, 32)))
    outs = model(torch.randn(2, 1, 16, 16))
    assert all(float(o.detach().min()) >= 0.0 for o in outs) and any(float(o.detach().min()) == 0.0 for o in outs)


@pytest.mark.parametrize(("size", "expected"), [((32, 32), [(2, 2), (4, 4), (8, 8), (16, 16)]), ((20, 28), None)])
def test_deep_supervision_target_pool_and_upsample(size: tuple[int, int], expected: list | None) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, *size)
    pool = UNetSharp(1, 1, deep_supervision=True, widths=(8, 16, 32, 64, 128)).train()
    outs = pool(x)
    assert [o.shape[-2:] for o in outs[:3]] + [outs[-1].shape[-2:]] == [size] * 4  # the 1x1 heads on row 0
    shapes = [tuple(o.shape[-2:]) for o in outs[3:7]]  # X4,0, X3,1, X2,2, X1,3 at 1/16, 1/8, 1/4, 1/2
    # 20 x 28 is mirror-padded to 32 x 32 (6 rows and 2 columns before): each branch keeps the cells covering it
    assert shapes == (expected or [(-(-(6 + 20) // s) - 6 // s, -(-(2 + 28) // s) - 2 // s) for s in (16, 8, 4, 2)])
    target = (torch.rand(2, *size) > 0.5).long()
    assert torch.isfinite(training_losses("bce+dice", "binary", pool)[1](outs, target))
    upsample = UNetSharp(1, 1, deep_supervision=True, deep_supervision_target="upsample", widths=(8, 16, 32, 64, 128))
    upsample.load_state_dict(pool.state_dict())
    ups = upsample.train()(x)
    assert all(o.shape[-2:] == size for o in ups)
    torch.testing.assert_close(ups[-1], outs[-1])


def test_presets_and_options_are_checked() -> None:
    assert unetzoo.list_presets("unet_sharp") == ["paper", "code", "ds_cgm"]
    assert unetzoo.create_model("unet_sharp").deep_supervision_target == "pool"
    assert unetzoo.create_model("unet_sharp", preset="code").deep_supervision_target == "upsample"
    with pytest.raises(ValueError, match="deep_supervision_target"):
        UNetSharp(deep_supervision_target="nearest")
    with pytest.raises(ValueError, match="cgm must be"):
        UNetSharp(cgm="both")
    with pytest.raises(ValueError, match="needs 5 widths"):
        UNetSharp(widths=(8, 16, 32))
    assert count_params(UNetSharp(level=2, widths=(8, 16, 32))) < count_params(UNetSharp(level=2))
