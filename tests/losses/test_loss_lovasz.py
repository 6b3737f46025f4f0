"""Lovasz losses against hand-computed values and a brute-force Lovasz extension of the Jaccard set function."""

from __future__ import annotations

import pytest
import torch

from unetzoo.losses import LovaszHingeLoss, LovaszSoftmaxLoss


def jaccard_set_loss(mispredicted: set[int], positives: set[int]) -> float:
    """Berman et al. 2018: the Jaccard loss of a set M of mispredicted pixels, |M| / |y | M|."""
    return len(mispredicted) / len(positives | mispredicted) if mispredicted else 0.0


def brute_lovasz_extension(errors: list[float], positives: set[int]) -> float:
    """The Lovasz extension by its level-set form: sum_i (m_(i) - m_(i+1)) * Delta({pi_1..pi_i}).

    Independent of ``lovasz_grad``: it evaluates the set function on each prefix of the sorted errors
    directly (Abel summation of Berman et al.'s ``sum_i m_i g_i``).
    """
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    levels = [errors[i] for i in order] + [0.0]
    return sum(
        (levels[k] - levels[k + 1]) * jaccard_set_loss(set(order[: k + 1]), positives) for k in range(len(order))
    )


def test_hinge_hand_computed() -> None:
    # y = [1, 0], x = [0.5, 0.2]: hinge errors [0.5, 1.2]; sorted -> [1.2 (neg), 0.5 (pos)];
    # Delta({1}) = 1/2, Delta({0, 1}) = 1 -> 1.2 * 1/2 + 0.5 * (1 - 1/2) = 0.85
    loss = LovaszHingeLoss()(torch.tensor([[[[0.5, 0.2]]]]), torch.tensor([[[1, 0]]]))
    assert loss.item() == pytest.approx(0.85)


def test_hinge_at_hard_predictions_is_twice_the_jaccard_loss() -> None:
    # unit-margin logits: correct pixels have error 0, wrong ones 2; the extension is 2 * Delta(M)
    logits = torch.tensor([[[[1.0, -1.0, -1.0, 1.0]]]])
    target = torch.tensor([[[1, 1, 0, 0]]])  # M = {1, 3}, |y | M| = 3
    assert LovaszHingeLoss()(logits, target).item() == pytest.approx(2 * 2 / 3)


def random_hinge_case(seed: int) -> tuple[torch.Tensor, torch.Tensor, list[float], list[int]]:
    """Logits (1, 1, 3, 4), a random binary target, the hinge errors and the flat target of one image."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 1, 3, 4, generator=g, dtype=torch.float64)
    target = (torch.rand(1, 3, 4, generator=g) > 0.5).long()
    errors = (1 - logits.flatten() * (2 * target.flatten() - 1)).clamp_min(0).tolist()
    return logits, target, errors, target.flatten().tolist()


@pytest.mark.parametrize("seed", range(5))
def test_hinge_matches_brute_force(seed: int) -> None:
    logits, target, errors, flat = random_hinge_case(seed)
    expected = brute_lovasz_extension(errors, {i for i, t in enumerate(flat) if t == 1})
    assert LovaszHingeLoss()(logits, target).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_symmetric_hinge_averages_the_jaccard_of_both_classes(seed: int) -> None:
    # Negating the logits and flipping the target keeps every hinge error and swaps the positive set.
    logits, target, errors, flat = random_hinge_case(seed)
    fg = {i for i, t in enumerate(flat) if t == 1}
    bg = {i for i, t in enumerate(flat) if t == 0}
    expected = (brute_lovasz_extension(errors, fg) + brute_lovasz_extension(errors, bg)) / 2
    loss = LovaszHingeLoss(symmetric=True)(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_hinge_per_image_and_reductions() -> None:
    g = torch.Generator().manual_seed(3)
    logits, target = torch.randn(3, 1, 5, 5, generator=g), (torch.rand(3, 5, 5, generator=g) > 0.5).long()
    per = LovaszHingeLoss(per_image=True, reduction="none")(logits, target)
    assert per.shape == (3,)
    singles = torch.stack([LovaszHingeLoss()(logits[i : i + 1], target[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(per, singles)
    torch.testing.assert_close(LovaszHingeLoss(per_image=True)(logits, target), singles.mean())
    torch.testing.assert_close(LovaszHingeLoss(per_image=True, reduction="sum")(logits, target), singles.sum())


def test_hinge_empty_target_with_confident_background_is_zero() -> None:
    logits = torch.full((1, 1, 4, 4), -3.0)
    assert LovaszHingeLoss()(logits, torch.zeros(1, 4, 4, dtype=torch.long)).item() == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_softmax_matches_brute_force(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64)
    target = torch.randint(0, 3, (1, 3, 3), generator=g)
    probs = logits.softmax(1)[0].flatten(1)  # (C, P)
    labels = target.flatten()
    per_class = []
    for c in labels.unique().tolist():
        fg = (labels == c).double()
        positives = set(torch.nonzero(fg).flatten().tolist())
        per_class.append(brute_lovasz_extension((fg - probs[c]).abs().tolist(), positives))
    expected = sum(per_class) / len(per_class)
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_softmax_at_one_hot_predictions_is_one_minus_iou_of_present_classes() -> None:
    target = torch.tensor([[[0, 0, 1, 1], [0, 2, 2, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 2, 0, 1]]])
    logits = 1e4 * torch.nn.functional.one_hot(pred, 4).permute(0, 3, 1, 2).double()  # class 3 absent: ignored
    ious = []
    for c in (0, 1, 2):
        inter = ((pred == c) & (target == c)).sum().item()
        union = ((pred == c) | (target == c)).sum().item()
        ious.append(inter / union)
    expected = sum(1 - iou for iou in ious) / 3
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(expected)


def test_ignore_index_drops_pixels() -> None:
    g = torch.Generator().manual_seed(4)
    logits, target = torch.randn(2, 3, 4, 6, generator=g), torch.randint(0, 3, (2, 4, 6), generator=g)
    ignored = target.clone()
    ignored[..., :2] = -1
    ours = LovaszSoftmaxLoss(per_image=True, ignore_index=-1)(logits, ignored)
    torch.testing.assert_close(ours, LovaszSoftmaxLoss(per_image=True)(logits[..., 2:], target[..., 2:]))
    binary = (target > 0).long()
    binary_ignored = torch.where(ignored == -1, ignored, binary)
    torch.testing.assert_close(
        LovaszHingeLoss(ignore_index=-1)(logits[:, :1], binary_ignored),
        LovaszHingeLoss()(logits[:, :1, :, 2:], binary[..., 2:]),
    )
