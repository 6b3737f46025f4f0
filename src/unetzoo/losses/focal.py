"""Focal loss (Lin et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from unetzoo.losses.base import Loss, Mode, Reduction, check_mode, check_reduction, prepare, reduce_pixels


class FocalLoss(Loss):
    """Focal loss, ``FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)`` per pixel.

    Lin, Goyal, Girshick, He & Dollar, "Focal Loss for Dense Object Detection", ICCV 2017, Eq. 5.
    ``p_t`` is the predicted probability of the true class (sigmoid in binary mode, softmax in multiclass
    mode); ``gamma = 0`` and no ``alpha`` give the cross-entropy.

    Args:
        mode: ``binary`` or ``multiclass``.
        alpha: binary: weight of the positive class (negatives get ``1 - alpha``), as in the paper;
            multiclass: a sequence of C per-class weights. None = no weighting.
        gamma: focusing parameter (2 in the paper).
        from_logits: False if the input holds probabilities.
        ignore_index: target value excluded from the loss.
        reduction: ``mean`` (over non-ignored pixels), ``sum``, or ``none`` (an (N, H, W) map).

    Matches MONAI ``FocalLoss`` (sigmoid form in binary mode, ``use_softmax=True`` with one-hot targets in
    multiclass mode, where MONAI's per-class map summed over classes is this per-pixel map).
    """

    def __init__(
        self,
        mode: Mode = "binary",
        *,
        alpha: float | Sequence[float] | None = None,
        gamma: float = 2.0,
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.mode = check_mode(mode)
        if mode == "binary" and alpha is not None and not isinstance(alpha, int | float):
            raise ValueError("binary focal loss takes a single alpha (the positive-class weight)")
        if mode == "multiclass" and isinstance(alpha, int | float):
            raise ValueError("multiclass focal loss takes one alpha per class, e.g. alpha=[0.25, 0.75]")
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, valid = prepare(logits, target, self.mode, self.from_logits, self.ignore_index)
        if self.mode == "binary":
            x, t = logits[:, 0], target.to(logits.dtype)
            log_pt = -F.binary_cross_entropy_with_logits(x, t, reduction="none")
            alpha_t = None if self.alpha is None else t * self.alpha + (1 - t) * (1 - self.alpha)
        else:
            log_pt = logits.log_softmax(dim=1).gather(1, target.unsqueeze(1))[:, 0]
            alpha_t = None if self.alpha is None else logits.new_tensor(self.alpha)[target]
        loss = -((-log_pt.expm1()) ** self.gamma) * log_pt  # (1 - p_t)^gamma, accurate near p_t = 1
        if alpha_t is not None:
            loss = alpha_t * loss
        return reduce_pixels(loss, valid, self.reduction)
