"""Composite losses: the UNet# hybrid, deep supervision, and the classification-guided module's term."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from unetzoo.losses.base import Loss, Mode, Reduction, WeightedSum, check_mode, check_reduction, prepare, reduce_loss
from unetzoo.losses.dice import DiceLoss
from unetzoo.losses.focal import FocalLoss
from unetzoo.losses.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss


class _BatchMeanFocal(Loss):
    """UNet# code's focal term: ``(1 - exp(-BCE))^gamma * BCE`` on the batch-mean BCE (not per pixel)."""

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, _ = prepare(logits, target, "binary", True, None)
        bce = F.binary_cross_entropy_with_logits(logits[:, 0], target.to(logits.dtype))
        return (-(-bce).expm1()) ** self.gamma * bce


class UNetSharpLoss(WeightedSum):
    """The UNet# hybrid loss, ``0.5 * focal + Dice + 0.5 * Lovasz hinge``.

    Qian, Zhou, Li & Hu, "UNet#: A UNet-like Redesigning Skip Connections for Medical Image Segmentation",
    arXiv 2205.11759, 2022 (hybrid loss of the method section).

    ``variant="paper"`` (default) reads the paper literally: per-pixel focal loss (Lin et al. 2017, Eq. 5,
    gamma 2, no alpha), Laplace-smoothed soft Dice (``smooth=1``, linear denominator), Lovasz hinge per image.
    ``variant="code"`` reproduces the authors' repository (qianledan/UNet_sharp), which differs in two ways:

    * focal is ``(1 - exp(-BCE))^2 * BCE`` applied to the **batch-mean** BCE, not per pixel;
    * Dice has a **squared** denominator ``sum(p^2) + sum(t^2)`` and ``smooth=1e-5``.

    The Lovasz hinge is per image on the logits in both. In ``multiclass`` mode (paper variant only) the terms
    become the softmax focal loss, the multiclass Dice and the Lovasz-Softmax loss. Wrap in
    :class:`DeepSupervisionLoss` for the deep-supervised model.
    """

    def __init__(self, mode: Mode = "binary", *, variant: Literal["paper", "code"] = "paper") -> None:
        check_mode(mode)
        if variant == "paper":
            focal: Loss = FocalLoss(mode, gamma=2.0)
            dice = DiceLoss(mode, smooth=1.0)
        elif variant == "code":
            if mode != "binary":
                raise ValueError("the UNet# code variant is binary only")
            focal, dice = _BatchMeanFocal(2.0), DiceLoss(mode, smooth=1e-5, squared=True)
        else:
            raise ValueError(f"variant must be 'paper' or 'code', got {variant!r}")
        lovasz = LovaszHingeLoss(per_image=True) if mode == "binary" else LovaszSoftmaxLoss(per_image=True)
        super().__init__([(0.5, focal), (1.0, dice), (0.5, lovasz)])
        self.variant = variant


def _resize_nearest(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of an (N, H, W) or (N, 1, H, W) label map (labels stay labels)."""
    if tuple(target.shape[-2:]) == size:
        return target
    planes = target if target.ndim == 4 else target.unsqueeze(1)
    resized = F.interpolate(planes.float(), size=size, mode="nearest").to(target.dtype)
    return resized if target.ndim == 4 else resized[:, 0]


class DeepSupervisionLoss(Loss):
    """Weighted mean of ``loss`` over deep-supervision side outputs, ``sum_k w_k L(o_k, y_k) / sum_k w_k``.

    As in UNet++ / UNet# training code: every side output is compared with the ground truth; a branch whose
    spatial size differs from the ground truth gets the ground truth resized to its size (nearest neighbour,
    so labels stay labels). unetzoo models return full-resolution side outputs, for which no resize happens.
    A single tensor (eval mode, or a model without deep supervision) is passed straight to ``loss``.

    Args:
        loss: the per-output loss (any scalar-reducing loss).
        weights: one weight per side output, in the model's output order; None = plain mean.
    """

    def __init__(self, loss: nn.Module, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.loss = loss
        self.weights = None if weights is None else [float(w) for w in weights]

    def forward(self, outputs: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        if isinstance(outputs, torch.Tensor):
            return self.loss(outputs, target)
        weights = self.weights or [1.0] * len(outputs)
        if len(weights) != len(outputs):
            raise ValueError(f"{len(weights)} deep-supervision weights for {len(outputs)} outputs")
        total = sum(
            w * self.loss(out, _resize_nearest(target, tuple(out.shape[-2:])))
            for w, out in zip(weights, outputs, strict=True)
        )
        return total / sum(weights)  # type: ignore[operator]


class ClassificationGuidanceLoss(Loss):
    """BCE of the classification-guided module (CGM): does the image contain any foreground?

    Huang et al., "UNet 3+", ICASSP 2020, Sec. 2.3 (reused by UNet#): the CGM gives two scores per image,
    column 0 = "no object", column 1 = "object present"; the target is the one-hot of
    ``any(ground truth > 0)`` (non-background, non-ignored pixels), and the loss is the binary cross-entropy of
    both columns.

    Args:
        from_logits: True for the pre-sigmoid scores unetzoo's CGM returns; False for sigmoid outputs.
        ignore_index: target value that does not count as foreground.
        reduction: ``mean``/``sum`` over images, or ``none`` (N,) (each the mean over the two columns).
    """

    def __init__(
        self, *, from_logits: bool = True, ignore_index: int | None = None, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, class_scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if class_scores.ndim != 2 or class_scores.shape[1] != 2:
            raise ValueError(f"CGM scores must be (N, 2), got {tuple(class_scores.shape)}")
        foreground = target > 0
        if self.ignore_index is not None:
            foreground &= target != self.ignore_index
        present = foreground.flatten(1).any(dim=1).to(class_scores.dtype)
        one_hot = torch.stack([1 - present, present], dim=1)
        logits = class_scores if self.from_logits else torch.logit(class_scores, eps=1e-7)
        loss = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none").mean(dim=1)
        return reduce_loss(loss, self.reduction)
