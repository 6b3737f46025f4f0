"""Composite losses: the UNet# hybrid, deep supervision, and the classification-guided modules' term."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from unetzoo.layers.cgm import ClassActivation, Guidance
from unetzoo.losses.base import (
    EPS,
    Loss,
    Mode,
    Reduction,
    WeightedSum,
    check_mode,
    check_reduction,
    prepare,
    reduce_loss,
)
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


def _downscale_max(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Max-pool an (N, H, W) or (N, 1, H, W) label map to ``size`` (labels stay labels): a cell is foreground
    when any of its pixels is (UNet# Fig. 2: "The MaxPool2d operation is used for down sampling")."""
    if tuple(target.shape[-2:]) == size:
        return target
    if size[0] > target.shape[-2] or size[1] > target.shape[-1]:
        raise ValueError(f"a deep-supervision output of {size} is larger than the ground truth {tuple(target.shape)}")
    planes = target if target.ndim == 4 else target.unsqueeze(1)
    pooled = F.adaptive_max_pool2d(planes.float(), size).to(target.dtype)
    return pooled if target.ndim == 4 else pooled[:, 0]


class DeepSupervisionLoss(Loss):
    """Weighted mean of ``loss`` over deep-supervision side outputs, ``sum_k w_k L(o_k, y_k) / sum_k w_k``.

    Every side output is compared with the ground truth (UNet++ Sec. 2, UNet 3+ Sec. 2.2, UNet# Sec. 2.2). An
    output smaller than the ground truth (UNet#'s branches at their own scale) is compared with the ground
    truth max-pooled to its size, as UNet# Fig. 2 does ("d x2, d x4, d x8, d x16"): exactly ``MaxPool2d(s)``
    when the size divides; otherwise adaptive max pooling, whose bins then only approximate the branch's
    cells. With multi-class ids the largest id of a cell wins (and an ``ignore_index`` above the classes
    spreads over its cell). A single tensor (eval mode, or a model without deep supervision) is passed
    straight to ``loss``.

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
            w * self.loss(out, _downscale_max(target, tuple(out.shape[-2:])))
            for w, out in zip(weights, outputs, strict=True)
        )
        return total / sum(weights)  # type: ignore[operator]


def object_present(target: torch.Tensor, ignore_index: int | None = None) -> torch.Tensor:
    """(N,) bool: does each ground-truth map hold any object pixel (> 0, not ``ignore_index``)?"""
    foreground = target > 0
    if ignore_index is not None:
        foreground &= target != ignore_index
    return foreground.flatten(1).any(dim=1)


class ClassificationGuidanceLoss(Loss):
    """BCE of a classification-guided module (CGM): does the image contain any foreground?

    The CGM gives two scores per image, column 0 = "no object", column 1 = "object present"; the target is the
    one-hot of ``any(ground truth > 0)`` (non-background, non-ignored pixels), and the loss is the binary
    cross-entropy of both columns:

    * ``activation="sigmoid"``: each column through a sigmoid, as UNet 3+ reads its CGM (Huang et al., ICASSP
      2020, Sec. 2.3);
    * ``activation="softmax"``: both through a softmax, as UNet# does (Qian et al. 2022, Sec. 2.3: "Softmax ...
      optimized by the BCE loss"); the two columns' BCE are then equal, and equal to the two-class
      cross-entropy, which is what is computed.

    Args:
        activation: how the scores are read, see above.
        from_logits: True for the pre-activation scores unetzoo's CGMs return; False for probabilities.
        ignore_index: target value that does not count as foreground.
        reduction: ``mean``/``sum`` over images, or ``none`` (N,) (each the mean over the two columns).
    """

    def __init__(
        self,
        *,
        activation: ClassActivation = "sigmoid",
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        if activation not in ("sigmoid", "softmax"):
            raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}")
        self.activation = activation
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, class_scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if class_scores.ndim != 2 or class_scores.shape[1] != 2:
            raise ValueError(f"CGM scores must be (N, 2), got {tuple(class_scores.shape)}")
        present = object_present(target, self.ignore_index)
        if self.activation == "softmax":
            logits = class_scores if self.from_logits else class_scores.clamp_min(EPS).log()
            loss = F.cross_entropy(logits, present.long(), reduction="none")
        else:
            one_hot = torch.stack([~present, present], dim=1).to(class_scores.dtype)
            logits = class_scores if self.from_logits else torch.logit(class_scores, eps=EPS)
            loss = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none").mean(dim=1)
        return reduce_loss(loss, self.reduction)


class GuidedLoss(Loss):
    """Segmentation loss plus ``weight`` x the BCE of a model's classification-guided modules (CGMs).

    ``loss(outputs, target) = segmentation(outputs, target) + weight * mean_k BCE_k``, the mean over the
    CGMs that scored the last forward (UNet 3+: one; UNet#: one per output branch, Sec. 2.3), each with
    :class:`ClassificationGuidanceLoss` in the CGMs' own reading (sigmoid or softmax). Each call under
    autograd with the CGMs in training mode counts one training step of them (``guidance.mark_trained()``):
    only trained CGMs gate a model's output in eval mode (:mod:`unetzoo.layers.cgm`).

    Args:
        segmentation: the loss of the segmentation outputs (a :class:`DeepSupervisionLoss` for side outputs).
        guidance: the model's :class:`unetzoo.layers.cgm.Guidance` (shared with the model, not a copy).
        weight: weight of the classification term (UNet 3+ adds it unweighted: 1).
    """

    def __init__(self, segmentation: nn.Module, guidance: Guidance, weight: float = 1.0) -> None:
        super().__init__()
        self.segmentation = segmentation
        self.guidance = guidance
        self.weight = float(weight)
        self.classification = ClassificationGuidanceLoss(activation=guidance.activation)

    def forward(self, outputs: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        scores = list(self.guidance.scores.values())
        if not scores:
            raise RuntimeError("the model's CGMs scored nothing: call the model before the loss")
        classification = sum(self.classification(s.float(), target) for s in scores) / len(scores)
        if torch.is_grad_enabled() and self.guidance.training:
            self.guidance.mark_trained()
        return self.segmentation(outputs, target) + self.weight * classification  # type: ignore[operator]

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
