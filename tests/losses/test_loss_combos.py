"""Weighted sums, the UNet# hybrid, deep supervision, the CGM term, build_loss, gradients and reductions."""

from __future__ import annotations

import pytest
import torch
from monai import losses as monai_losses
from torch.nn import functional as F

from unetzoo.errors import UnetzooError
from unetzoo.losses import (
    BCELoss,
    ClassificationGuidanceLoss,
    CrossEntropyLoss,
    DeepSupervisionLoss,
    DiceLoss,
    FocalLoss,
    LovaszHingeLoss,
    LovaszSoftmaxLoss,
    TverskyLoss,
    UNetSharpLoss,
    WeightedSum,
    build_loss,
)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 1, 8, 8, generator=g), (torch.rand(2, 8, 8, generator=g) > 0.5).long()


def test_operator_sugar_builds_flat_weighted_sums(batch) -> None:
    logits, target = batch
    dice, bce = DiceLoss(), BCELoss()
    combo = 0.5 * (dice + bce) + 2 * FocalLoss()
    assert isinstance(combo, WeightedSum) and combo.weights == [0.5, 0.5, 2.0]
    expected = 0.5 * dice(logits, target) + 0.5 * bce(logits, target) + 2 * FocalLoss()(logits, target)
    torch.testing.assert_close(combo(logits, target), expected)


def test_unetsharp_paper_variant_is_the_documented_sum(batch) -> None:
    logits, target = batch
    expected = (
        0.5 * FocalLoss(gamma=2)(logits, target)
        + DiceLoss(smooth=1.0)(logits, target)
        + 0.5 * LovaszHingeLoss(per_image=True)(logits, target)
    )
    torch.testing.assert_close(UNetSharpLoss()(logits, target), expected)


def test_unetsharp_code_variant_reproduces_the_authors_terms(batch) -> None:
    logits, target = batch
    bce = F.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    focal = (1 - torch.exp(-bce)) ** 2 * bce  # on the batch-mean BCE
    dice = monai_losses.DiceLoss(sigmoid=True, squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-5)(
        logits, target.unsqueeze(1).float()
    )
    expected = 0.5 * focal + dice + 0.5 * LovaszHingeLoss(per_image=True)(logits, target)
    torch.testing.assert_close(UNetSharpLoss(variant="code")(logits, target), expected)
    with pytest.raises(ValueError, match="binary only"):
        UNetSharpLoss("multiclass", variant="code")


def test_unetsharp_multiclass_uses_softmax_terms() -> None:
    loss = UNetSharpLoss("multiclass")
    assert [type(m) for m in loss.losses] == [FocalLoss, DiceLoss, LovaszSoftmaxLoss]


def test_deep_supervision_max_pools_ground_truth_and_averages() -> None:
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 2, (2, 8, 8), generator=g)
    full, half = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 4, 4, generator=g)
    base = DiceLoss()
    pooled = F.max_pool2d(target[:, None].float(), 2)[:, 0].long()  # UNet# Fig. 2: MaxPool2d, "d x2"
    assert not torch.equal(pooled, target[:, ::2, ::2])  # differs from nearest sampling on this target
    expected_half = base(half, pooled)
    ds = DeepSupervisionLoss(base)
    torch.testing.assert_close(ds([half, full], target), (expected_half + base(full, target)) / 2)
    weighted = DeepSupervisionLoss(base, weights=[1.0, 3.0])([half, full], target)
    torch.testing.assert_close(weighted, (expected_half + 3 * base(full, target)) / 4)
    torch.testing.assert_close(ds(full, target), base(full, target))  # a single tensor passes through
    with pytest.raises(ValueError, match="2 deep-supervision weights for 3"):
        DeepSupervisionLoss(base, weights=[1, 1])([full, full, full], target)
    with pytest.raises(ValueError, match="larger than the ground truth"):
        ds([torch.randn(2, 1, 16, 16), full], target)


def test_classification_guidance_loss_targets_mask_non_empty() -> None:
    scores = torch.tensor([[2.0, -1.0], [0.5, 1.5]])
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[1, 2, 2] = 1  # image 0 empty, image 1 has an object
    expected = F.binary_cross_entropy_with_logits(scores, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    torch.testing.assert_close(ClassificationGuidanceLoss()(scores, target), expected)
    probs = ClassificationGuidanceLoss(from_logits=False)(scores.sigmoid(), target)
    torch.testing.assert_close(probs, expected, rtol=1e-5, atol=1e-6)
    ignored = target.clone()
    ignored[0, 0, 0] = 255  # an ignored pixel is not an object
    torch.testing.assert_close(ClassificationGuidanceLoss(ignore_index=255)(scores, ignored), expected)
    assert ClassificationGuidanceLoss(reduction="none")(scores, target).shape == (2,)


@pytest.mark.parametrize(
    ("spec", "mode", "types", "weights"),
    [
        ("dice+bce", "binary", [DiceLoss, BCELoss], [1.0, 1.0]),
        ("0.5*focal + dice + 0.5*lovasz", "binary", [FocalLoss, DiceLoss, LovaszHingeLoss], [0.5, 1.0, 0.5]),
        ("dice+ce", "multiclass", [DiceLoss, CrossEntropyLoss], [1.0, 1.0]),
        ("bce+.25*tversky", "multiclass", [CrossEntropyLoss, TverskyLoss], [1.0, 0.25]),
        ("lovasz+2*dice", "multiclass", [LovaszSoftmaxLoss, DiceLoss], [1.0, 2.0]),
    ],
)
def test_build_loss_parses_weighted_sums(spec: str, mode: str, types: list[type], weights: list[float]) -> None:
    loss = build_loss(spec, mode)
    assert isinstance(loss, WeightedSum)
    assert [type(m) for m in loss.losses] == types and loss.weights == weights


def test_build_loss_single_terms() -> None:
    assert isinstance(build_loss("dice"), DiceLoss)
    assert isinstance(build_loss("UNetSharp"), UNetSharpLoss) and build_loss("unetsharp").variant == "paper"
    assert build_loss("unetsharp_code").variant == "code"
    assert build_loss("lovasz_fgbg").symmetric and not build_loss("lovasz").symmetric
    assert isinstance(build_loss("lovasz_fgbg", "multiclass"), LovaszSoftmaxLoss)  # every class already counts
    assert isinstance(build_loss("0.5*dice"), WeightedSum)


@pytest.mark.parametrize("spec", ["dice+", "dicee", "x*dice", "dice-bce", "unetsharp_code"])
def test_build_loss_rejects_bad_specs_with_usage_error(spec: str) -> None:
    with pytest.raises(UnetzooError) as info:
        build_loss(spec, "multiclass")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("loss", "mode"),
    [
        (BCELoss(pos_weight=2.0), "binary"),
        (CrossEntropyLoss(), "multiclass"),
        (DiceLoss(squared=True), "binary"),
        (DiceLoss("multiclass"), "multiclass"),
        (TverskyLoss("multiclass"), "multiclass"),
        (FocalLoss(alpha=0.25), "binary"),
        (FocalLoss("multiclass"), "multiclass"),
        (LovaszHingeLoss(per_image=True), "binary"),
        (LovaszSoftmaxLoss(), "multiclass"),
        (UNetSharpLoss(variant="code"), "binary"),
        (DeepSupervisionLoss(UNetSharpLoss()), "binary"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else v,
)
def test_gradients_flow(loss: torch.nn.Module, mode: str) -> None:
    g = torch.Generator().manual_seed(2)
    channels = 1 if mode == "binary" else 3
    logits = torch.randn(2, channels, 6, 6, generator=g, requires_grad=True)
    target = torch.randint(0, 2 if mode == "binary" else 3, (2, 6, 6), generator=g)
    inputs = [logits, logits * 1.0] if isinstance(loss, DeepSupervisionLoss) else logits
    value = loss(inputs, target)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value)
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda r: BCELoss(reduction=r), (2, 8, 8)),
        (lambda r: FocalLoss(reduction=r), (2, 8, 8)),
        (lambda r: DiceLoss(reduction=r), (2, 1)),
        (lambda r: DiceLoss(batch=True, reduction=r), (1,)),
        (lambda r: TverskyLoss(reduction=r), (2, 1)),
    ],
)
def test_reductions_are_consistent(batch, make, shape: tuple[int, ...]) -> None:
    logits, target = batch
    none = make("none")(logits, target)
    assert none.shape == shape
    torch.testing.assert_close(make("sum")(logits, target), none.sum())
    torch.testing.assert_close(make("mean")(logits, target), none.mean())
    with pytest.raises(ValueError, match="reduction"):
        make("avg")


def test_empty_ground_truth_behaviour() -> None:
    empty = torch.zeros(1, 6, 6, dtype=torch.long)
    confident_background, confident_object = torch.full((1, 1, 6, 6), -20.0), torch.full((1, 1, 6, 6), 20.0)
    # Laplace smoothing: an empty prediction of an empty mask is (almost) perfect, a full one is (almost) 1
    assert DiceLoss()(confident_background, empty).item() == pytest.approx(0.0, abs=1e-6)
    assert DiceLoss()(confident_object, empty).item() == pytest.approx(36 / 37, abs=1e-6)
    # without smoothing an empty target scores 1 whatever the prediction: why smooth defaults to 1
    assert DiceLoss(smooth=0.0)(confident_background, empty).item() == pytest.approx(1.0)


def test_shape_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match="one logit channel"):
        DiceLoss("binary")(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="expected logits"):
        BCELoss()(torch.randn(1, 1, 4, 4), torch.zeros(1, 5, 4))
    with pytest.raises(ValueError, match="mode"):
        DiceLoss("multilabel")  # type: ignore[arg-type]
