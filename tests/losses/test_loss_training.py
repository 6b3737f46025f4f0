"""What a training run optimises (:func:`training_losses`): deep supervision as the model was built, and the
classification-guided modules' BCE (UNet 3+ / UNet# Sec. 2.3) for a model with a CGM."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unetzoo
from unetzoo.losses import (
    BCELoss,
    ClassificationGuidanceLoss,
    DeepSupervisionLoss,
    DiceLoss,
    GuidedLoss,
    WeightedSum,
    build_loss,
    training_losses,
)

SMALL = {"in_channels": 1, "widths": (8, 16, 32)}


def test_softmax_reading_is_the_two_class_cross_entropy() -> None:
    scores = torch.tensor([[2.0, -1.0], [0.5, 1.5], [0.0, 3.0]])
    target = torch.zeros(3, 4, 4, dtype=torch.long)
    target[1:, 1, 1] = 1
    present = torch.tensor([0, 1, 1])
    softmax = ClassificationGuidanceLoss(activation="softmax")
    torch.testing.assert_close(softmax(scores, target), F.cross_entropy(scores, present))
    # = the BCE of the softmax probabilities against the one-hot, both columns averaged (UNet# Sec. 2.3)
    one_hot = F.one_hot(present, 2).float()
    torch.testing.assert_close(softmax(scores, target), F.binary_cross_entropy(scores.softmax(1), one_hot))
    torch.testing.assert_close(
        ClassificationGuidanceLoss(activation="softmax", from_logits=False)(scores.softmax(1), target),
        softmax(scores, target),
    )
    with pytest.raises(ValueError, match="activation"):
        ClassificationGuidanceLoss(activation="relu")  # type: ignore[arg-type]


def test_plain_model_trains_on_the_spec_alone() -> None:
    model = unetzoo.create_model("unet", preset="same", widths=(8, 16))
    validation, training = training_losses("bce+dice", "binary", model)
    assert isinstance(validation, WeightedSum) and training is validation


def test_deep_supervision_follows_the_model_not_a_flag() -> None:
    """A preset that builds deep supervision (unetpp pytorch-ds) gets the deep-supervision loss by itself."""
    model = unetzoo.create_model("unetpp", preset="pytorch-ds", **SMALL)
    validation, training = training_losses("dice", "binary", model)
    assert isinstance(validation, DiceLoss)
    assert isinstance(training, DeepSupervisionLoss) and training.loss is validation
    outs = model.train()(torch.randn(2, 1, 16, 16))
    target = torch.zeros(2, 16, 16, dtype=torch.long)
    expected = sum(validation(o, target) for o in outs) / len(outs)
    torch.testing.assert_close(training(outs, target), expected)


@pytest.mark.parametrize(("spec", "weight"), [("bce+dice", 1.0), ("bce+dice+0.4*cgm", 0.4), ("0.25*cgm+bce", 0.25)])
def test_a_model_with_a_cgm_trains_it(spec: str, weight: float) -> None:
    torch.manual_seed(0)
    model = unetzoo.create_model("unet3p", preset="ds_cgm", **SMALL)
    validation, training = training_losses(spec, "binary", model)
    assert "cgm" not in repr(validation).lower()
    assert isinstance(training, GuidedLoss) and training.weight == weight and training.guidance is model.cgm
    assert isinstance(training.segmentation, DeepSupervisionLoss)
    target = torch.zeros(2, 16, 16, dtype=torch.long)
    target[0, 3:6, 3:6] = 1  # image 0 has an object, image 1 none
    outs = model.train()(torch.randn(2, 1, 16, 16))
    scores = model.last_class_logits
    assert scores is not None
    expected = training.segmentation(outs, target) + weight * F.binary_cross_entropy_with_logits(
        scores, torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    )
    assert model.cgm is not None and not model.cgm.trained
    torch.testing.assert_close(training(outs, target), expected)
    assert model.cgm.trained  # a training call counts


def test_evaluation_calls_do_not_count_as_training() -> None:
    model = unetzoo.create_model("unet3p", cgm=True, **SMALL).eval()
    _, training = training_losses("bce", "binary", model)
    with torch.no_grad():
        out = model(torch.randn(2, 1, 16, 16))
        training(out, torch.zeros(2, 16, 16, dtype=torch.long))
    assert model.cgm is not None and not model.cgm.trained and int(model.cgm.trained_steps) == 0


def test_cgm_term_errors() -> None:
    plain = unetzoo.create_model("unet", preset="same", widths=(8, 16))
    with pytest.raises(unetzoo.UnetzooError, match="no classification-guided module"):
        training_losses("bce+cgm", "binary", plain)
    guided = unetzoo.create_model("unet3p", cgm=True, **SMALL)
    with pytest.raises(unetzoo.UnetzooError, match="segmentation terms and at most one cgm"):
        training_losses("cgm", "binary", guided)
    with pytest.raises(unetzoo.UnetzooError, match="needs the model"):
        build_loss("bce+cgm")
    with pytest.raises(unetzoo.UnetzooError, match=r"bad loss term 'cgn'.*cgm for a model"):
        build_loss("bce+cgn")
    assert isinstance(build_loss("bce"), BCELoss)


def test_guided_loss_needs_a_forward_first() -> None:
    model = unetzoo.create_model("unet3p", cgm=True, **SMALL)
    _, training = training_losses("bce", "binary", model)
    with pytest.raises(RuntimeError, match="call the model before the loss"):
        training(torch.zeros(2, 1, 16, 16), torch.zeros(2, 16, 16, dtype=torch.long))
