"""Cross-entropy losses: binary (sigmoid) and multi-class (softmax)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from unetzoo.losses.base import EPS, Loss, Reduction, check_reduction, prepare, reduce_pixels


class BCELoss(Loss):
    """Binary cross-entropy on logits, ``-[w_+ t log s(x) + (1 - t) log(1 - s(x))]`` per pixel.

    A wrapper of :func:`torch.nn.functional.binary_cross_entropy_with_logits` in unetzoo's conventions
    (binary mode only; see :mod:`unetzoo.losses.base`).

    Args:
        pos_weight: weight ``w_+`` of the positive (foreground) term; None = 1.
        from_logits: False if the input holds sigmoid probabilities.
        ignore_index: target value excluded from the loss.
        reduction: ``mean`` (over non-ignored pixels), ``sum``, or ``none`` (an (N, H, W) map).
    """

    def __init__(
        self,
        pos_weight: float | None = None,
        *,
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.pos_weight = pos_weight
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, valid = prepare(logits, target, "binary", self.from_logits, self.ignore_index)
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        loss = F.binary_cross_entropy_with_logits(
            logits[:, 0], target.to(logits.dtype), pos_weight=pos_weight, reduction="none"
        )
        return reduce_pixels(loss, valid, self.reduction)


class CrossEntropyLoss(Loss):
    """Multi-class cross-entropy, ``-w_y log softmax(x)_y`` per pixel (:func:`torch.nn.functional.cross_entropy`).

    Args:
        weight: optional per-class weights ``w_c`` (length C).
        from_logits: False if the input holds softmax probabilities.
        ignore_index: target value excluded from the loss.
        reduction: ``mean`` (over non-ignored pixels; with ``weight``, divided by the summed weights of those
            pixels, as PyTorch does), ``sum``, or ``none`` (an (N, H, W) map).
    """

    def __init__(
        self,
        weight: list[float] | None = None,
        *,
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.weight = weight
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, valid = prepare(logits, target, "multiclass", self.from_logits, self.ignore_index)
        weight = None if self.weight is None else logits.new_tensor(self.weight)
        loss = F.cross_entropy(logits, target, weight=weight, reduction="none")
        if weight is not None and self.reduction == "mean":
            return (loss * valid).sum() / (weight[target] * valid).sum().clamp_min(EPS)
        return reduce_pixels(loss, valid, self.reduction)
