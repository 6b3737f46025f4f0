"""Overlap losses on soft (probabilistic) predictions: Dice and Tversky."""

from __future__ import annotations

import torch

from unetzoo.losses.base import (
    Loss,
    Mode,
    Reduction,
    check_mode,
    check_reduction,
    prepare,
    probabilities_and_one_hot,
    reduce_loss,
)


class _OverlapLoss(Loss):
    """Common part: soft probabilities ``p`` and one-hot targets ``t`` per image and class, ignored pixels zeroed."""

    def __init__(
        self,
        mode: Mode,
        *,
        from_logits: bool,
        smooth: float,
        include_background: bool,
        ignore_index: int | None,
        batch: bool,
        reduction: Reduction,
        binary_background: bool = False,
    ) -> None:
        super().__init__()
        self.binary_background = binary_background
        self.mode = check_mode(mode)
        self.from_logits = from_logits
        self.smooth = smooth
        self.include_background = include_background
        self.ignore_index = ignore_index
        self.batch = batch
        self.reduction = check_reduction(reduction)

    def soft_sets(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, target, valid = prepare(logits, target, self.mode, self.from_logits, self.ignore_index)
        probs, one_hot = probabilities_and_one_hot(logits, target, self.mode)
        mask = valid.unsqueeze(1).to(probs.dtype)
        probs, one_hot = probs * mask, one_hot * mask
        if self.mode == "multiclass" and not self.include_background:
            probs, one_hot = probs[:, 1:], one_hot[:, 1:]
        if self.mode == "binary" and self.binary_background:  # background as a second class: 1 - p vs 1 - t
            probs = torch.cat([probs, (1 - probs) * mask], dim=1)
            one_hot = torch.cat([one_hot, (1 - one_hot) * mask], dim=1)
        return probs, one_hot

    def spatial_sum(self, x: torch.Tensor) -> torch.Tensor:
        """Sum over pixels (and over the batch if ``batch``): (N, C) or (C,)."""
        return x.sum(dim=(0, 2, 3) if self.batch else (2, 3))


class DiceLoss(_OverlapLoss):
    """Soft Dice loss, ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` per image and class.

    Milletari, Navab & Ahmadi, "V-Net", 3DV 2016, Eq. 1 (which uses the squared denominator
    ``sum(p^2) + sum(t^2)``, ``squared=True``), with Laplace (add-``s``) smoothing in numerator and denominator.
    UNet# (Qian et al. 2022) uses ``squared=True, smooth=1e-5``. Equals MONAI ``DiceLoss(smooth_nr=s,
    smooth_dr=s, squared_pred=squared, batch=batch)``.

    Args:
        mode: ``binary`` (sigmoid, the one foreground channel) or ``multiclass`` (softmax, one-hot target).
        from_logits: False if the input holds probabilities.
        smooth: Laplace smoothing ``s`` (1 = add-one; keeps the loss defined and pushes ``p`` to 0 on empty
            targets).
        squared: use ``sum(p^2) + sum(t^2)`` in the denominator (V-Net form).
        include_background: multiclass only: keep class 0 in the mean.
        binary_background: binary only: also score the background (``1 - p`` against ``1 - t``) and average
            the two Dice terms, i.e. the two-class softmax Dice with background included. Aligns the loss with
            MIoU, which averages both classes: on ISBI 2012 the background is the thin membrane class that a
            foreground-only Dice neglects (``--loss bce+dice_fgbg``).
        ignore_index: target value excluded from all sums.
        batch: sum over the whole batch before the ratio (one Dice per class) instead of per image.
        reduction: ``mean``/``sum`` over images and classes, or ``none``: the (N, C) (or (C,) if ``batch``) losses.
    """

    def __init__(
        self,
        mode: Mode = "binary",
        *,
        from_logits: bool = True,
        smooth: float = 1.0,
        squared: bool = False,
        include_background: bool = True,
        binary_background: bool = False,
        ignore_index: int | None = None,
        batch: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode,
            from_logits=from_logits,
            smooth=smooth,
            include_background=include_background,
            ignore_index=ignore_index,
            batch=batch,
            reduction=reduction,
            binary_background=binary_background,
        )
        self.squared = squared

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = self.soft_sets(logits, target)
        denominator = self.spatial_sum(p * p + t * t) if self.squared else self.spatial_sum(p + t)
        dice = (2 * self.spatial_sum(p * t) + self.smooth) / (denominator + self.smooth)
        return reduce_loss(1 - dice, self.reduction)


class TverskyLoss(_OverlapLoss):
    """Tversky loss, ``1 - (TP + s) / (TP + alpha FP + beta FN + s)`` with soft counts, per image and class.

    Salehi, Erdogmus & Gholipour, "Tversky loss function for image segmentation using 3D fully convolutional
    deep networks", MLMI 2017: the Tversky index ``S(P, G; a, b) = |P & G| / (|P & G| + a |P - G| + b |G - P|)``
    in its soft (probabilistic) form. ``alpha`` weighs false positives ``sum(p (1 - t))``, ``beta`` false
    negatives ``sum((1 - p) t)``; ``alpha = beta = 0.5`` is the Dice loss. The defaults 0.3 / 0.7 are the
    paper's best setting (recall-leaning); MONAI and smp default to 0.5 / 0.5. Equals MONAI ``TverskyLoss``.

    Args: as :class:`DiceLoss` (no ``squared``), plus ``alpha`` and ``beta``.
    """

    def __init__(
        self,
        mode: Mode = "binary",
        *,
        alpha: float = 0.3,
        beta: float = 0.7,
        from_logits: bool = True,
        smooth: float = 1.0,
        include_background: bool = True,
        ignore_index: int | None = None,
        batch: bool = False,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(
            mode,
            from_logits=from_logits,
            smooth=smooth,
            include_background=include_background,
            ignore_index=ignore_index,
            batch=batch,
            reduction=reduction,
        )
        self.alpha = alpha
        self.beta = beta

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = self.soft_sets(logits, target)
        tp = self.spatial_sum(p * t)
        fp = self.spatial_sum(p) - tp
        fn = self.spatial_sum(t) - tp
        index = (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth)
        return reduce_loss(1 - index, self.reduction)
