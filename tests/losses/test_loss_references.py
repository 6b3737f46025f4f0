"""Each loss against an independent reference: MONAI, PyTorch, or a closed form."""

from __future__ import annotations

import pytest
import torch
from monai import losses as monai_losses
from torch.nn import functional as F

from unetzoo.losses import BCELoss, CrossEntropyLoss, DiceLoss, FocalLoss, TverskyLoss

TOL = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture
def binary() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 12, 10, generator=g, dtype=torch.float64) * 2
    target = (torch.rand(3, 12, 10, generator=g) > 0.6).long()
    target[2] = 0  # an empty ground truth in the batch
    return logits, target


@pytest.fixture
def multiclass() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 9, 11, generator=g, dtype=torch.float64) * 2
    return logits, torch.randint(0, 4, (2, 9, 11), generator=g)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dice_binary_matches_monai(binary, squared: bool, batch: bool, reduction: str) -> None:
    logits, target = binary
    ours = DiceLoss("binary", smooth=0.7, squared=squared, batch=batch, reduction=reduction)(logits, target)
    ref = monai_losses.DiceLoss(
        sigmoid=True, squared_pred=squared, batch=batch, smooth_nr=0.7, smooth_dr=0.7, reduction=reduction
    )(logits, target.unsqueeze(1).double())
    torch.testing.assert_close(ours, ref.reshape(ours.shape), **TOL)


@pytest.mark.parametrize("include_background", [True, False])
def test_dice_multiclass_matches_monai(multiclass, include_background: bool) -> None:
    logits, target = multiclass
    ours = DiceLoss("multiclass", smooth=1e-5, include_background=include_background, reduction="none")(logits, target)
    ref = monai_losses.DiceLoss(
        softmax=True, to_onehot_y=True, include_background=include_background, reduction="none"
    )(logits, target.unsqueeze(1))
    torch.testing.assert_close(ours, ref.reshape(ours.shape), **TOL)


def test_dice_binary_background_is_two_class_softmax_dice(binary) -> None:
    """``binary_background``: sigmoid(z) is softmax([0, z])[1], so it must equal MONAI's two-class Dice."""
    logits, target = binary
    ours = DiceLoss("binary", smooth=1.0, binary_background=True)(logits, target)
    two_class = torch.cat([torch.zeros_like(logits), logits], dim=1)
    ref = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=1.0, smooth_dr=1.0)(
        two_class, target.unsqueeze(1)
    )
    torch.testing.assert_close(ours, ref, **TOL)
    assert not torch.allclose(ours, DiceLoss("binary", smooth=1.0)(logits, target))


@pytest.mark.parametrize(("mode", "alpha", "beta"), [("binary", 0.3, 0.7), ("multiclass", 0.6, 0.4)])
def test_tversky_matches_monai(binary, multiclass, mode: str, alpha: float, beta: float) -> None:
    logits, target = binary if mode == "binary" else multiclass
    ours = TverskyLoss(mode, alpha=alpha, beta=beta, smooth=1.0, reduction="none")(logits, target)
    act = {"sigmoid": True} if mode == "binary" else {"softmax": True, "to_onehot_y": True}
    ref = monai_losses.TverskyLoss(**act, alpha=alpha, beta=beta, smooth_nr=1.0, smooth_dr=1.0, reduction="none")(
        logits, target.unsqueeze(1).double() if mode == "binary" else target.unsqueeze(1)
    )
    torch.testing.assert_close(ours, ref.reshape(ours.shape), **TOL)


def test_tversky_half_half_is_dice(binary) -> None:
    logits, target = binary
    tversky = TverskyLoss(alpha=0.5, beta=0.5, smooth=0.5)(logits, target)  # Dice's smooth s is Tversky's s / 2
    torch.testing.assert_close(tversky, DiceLoss()(logits, target), **TOL)


@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_focal_binary_matches_monai(binary, alpha: float | None, gamma: float) -> None:
    logits, target = binary
    ours = FocalLoss("binary", alpha=alpha, gamma=gamma)(logits, target)
    ref = monai_losses.FocalLoss(alpha=alpha, gamma=gamma)(logits, target.unsqueeze(1).double())
    torch.testing.assert_close(ours, ref.to(ours.dtype), rtol=1e-5, atol=1e-6)


def test_focal_gamma0_is_bce(binary) -> None:
    logits, target = binary
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, target), BCELoss()(logits, target), **TOL)


@pytest.mark.parametrize("alpha", [None, [0.1, 0.2, 0.3, 0.4]])
def test_focal_multiclass_matches_monai_softmax(multiclass, alpha: list[float] | None) -> None:
    logits, target = multiclass
    ours = FocalLoss("multiclass", alpha=alpha, reduction="none")(logits, target)
    ref = monai_losses.FocalLoss(
        to_onehot_y=True, use_softmax=True, alpha=None if alpha is None else torch.tensor(alpha), reduction="none"
    )(logits, target.unsqueeze(1))
    torch.testing.assert_close(ours, ref.sum(dim=1).to(ours.dtype), rtol=1e-5, atol=1e-6)


def test_bce_matches_torch_with_pos_weight(binary) -> None:
    logits, target = binary
    ref = F.binary_cross_entropy_with_logits(logits[:, 0], target.double(), pos_weight=torch.tensor(3.0).double())
    torch.testing.assert_close(BCELoss(pos_weight=3.0)(logits, target), ref, **TOL)


def test_cross_entropy_matches_torch_with_ignore_and_weight(multiclass) -> None:
    logits, target = multiclass
    target = target.clone()
    target[:, :3] = 255
    weight = [1.0, 2.0, 0.5, 1.5]
    ours = CrossEntropyLoss(weight, ignore_index=255)(logits, target)
    ref = F.cross_entropy(logits, target, weight=torch.tensor(weight).double(), ignore_index=255)
    torch.testing.assert_close(ours, ref, **TOL)
    torch.testing.assert_close(
        CrossEntropyLoss(ignore_index=255)(logits, target), F.cross_entropy(logits, target, ignore_index=255), **TOL
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: BCELoss(pos_weight=2.0, **kw),
        lambda **kw: DiceLoss(**kw),
        lambda **kw: TverskyLoss(**kw),
        lambda **kw: FocalLoss(alpha=0.25, **kw),
    ],
)
def test_probability_input_equals_logit_input(binary, make) -> None:
    logits, target = binary
    from_probs = make(from_logits=False)(logits.sigmoid(), target)
    torch.testing.assert_close(from_probs, make()(logits, target), rtol=1e-5, atol=1e-6)


def test_ignore_index_equals_cropping(binary, multiclass) -> None:
    for mode, (logits, target) in (("binary", binary), ("multiclass", multiclass)):
        ignored = target.clone()
        ignored[..., :4] = 255
        for loss in (DiceLoss(mode, ignore_index=255), FocalLoss(mode, ignore_index=255)):
            cropped = type(loss)(mode)(logits[..., 4:], target[..., 4:])
            torch.testing.assert_close(loss(logits, ignored), cropped, **TOL)
