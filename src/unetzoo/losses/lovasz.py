"""Lovasz losses: convex surrogates of the Jaccard (IoU) loss (Berman, Rannen Triki & Blaschko, CVPR 2018)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from unetzoo.losses.base import Loss, Reduction, check_reduction, prepare, reduce_loss


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss at errors sorted in decreasing order.

    Berman et al. 2018, Alg. 1 (the gradient ``g`` of the Lovasz extension, Sec. 3.1):
    ``g_i = J(pi_1..pi_i) - J(pi_1..pi_{i-1})``, where ``J(M) = 1 - |y & ~M| / |y | M|`` is the Jaccard loss
    of the set ``M`` of mispredicted pixels.
    """
    positives = gt_sorted.sum()
    intersection = positives - gt_sorted.cumsum(0)
    union = positives + (1 - gt_sorted).cumsum(0)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def _lovasz_hinge_flat(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Alg. 1 on flat logits/labels: hinge errors ``1 - x * (2y - 1)``, sorted, dotted with the Lovasz gradient."""
    if logits.numel() == 0:
        return logits.sum()
    errors = 1 - logits * (2 * labels - 1)
    errors_sorted, order = torch.sort(errors, descending=True)
    return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[order]))


def _lovasz_softmax_flat(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Lovasz-Softmax on flat (P, C) probabilities: mean over the classes present in ``labels``."""
    losses = []
    for c in labels.unique():
        fg = (labels == c).to(probs.dtype)
        errors_sorted, order = torch.sort((fg - probs[:, c]).abs(), descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[order])))
    return torch.stack(losses).mean() if losses else probs.sum() * 0


class _LovaszLoss(Loss):
    """What both Lovasz losses share: one loss over the batch, or one per image then reduced."""

    def __init__(
        self,
        *,
        per_image: bool = False,
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.per_image = per_image
        self.from_logits = from_logits
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    def _over_images(
        self,
        flat_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        scores: torch.Tensor,
        labels: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        """``flat_loss`` of the valid pixels of the whole batch, or of each image's then reduced (``per_image``)."""
        if not self.per_image:
            return flat_loss(scores[valid], labels[valid])
        losses = [flat_loss(si[vi], li[vi]) for si, li, vi in zip(scores, labels, valid, strict=True)]
        return reduce_loss(torch.stack(losses), self.reduction)


class LovaszHingeLoss(_LovaszLoss):
    """Lovasz hinge loss (binary): the Lovasz extension of the Jaccard loss applied to hinge errors of the logits.

    Berman, Rannen Triki & Blaschko, "The Lovasz-Softmax loss: A tractable surrogate for the optimization of the
    intersection-over-union measure in neural networks", CVPR 2018, Sec. 3.2 and Alg. 1, with hinge errors
    ``m_i = max(1 - F_i y*_i, 0)``, ``y* = 2y - 1``. It works on **logits** (the margin); probabilities with
    ``from_logits=False`` are mapped back with ``logit(p)``.

    Args:
        per_image: one loss per image, then reduced (UNet# uses this); otherwise one loss over the whole batch.
        symmetric: also the hinge of the background (negated logits against ``1 - y``) and average the two: a
            surrogate of the two-class mean IoU (MIoU) rather than of the foreground IoU alone
            (``--loss lovasz_fgbg``; on ISBI 2012 the background is the thin membrane class).
        from_logits: False if the input holds sigmoid probabilities.
        ignore_index: target value excluded from the loss.
        reduction: with ``per_image``: ``mean``/``sum`` over images or ``none`` (N,); otherwise a scalar.
    """

    def __init__(
        self,
        *,
        per_image: bool = False,
        symmetric: bool = False,
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(per_image=per_image, from_logits=from_logits, ignore_index=ignore_index, reduction=reduction)
        self.symmetric = symmetric

    def _hinge(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.symmetric:
            return (_lovasz_hinge_flat(x, y) + _lovasz_hinge_flat(-x, 1 - y)) / 2
        return _lovasz_hinge_flat(x, y)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, valid = prepare(logits, target, "binary", self.from_logits, self.ignore_index)
        return self._over_images(self._hinge, logits[:, 0], target.to(logits.dtype), valid)


class LovaszSoftmaxLoss(_LovaszLoss):
    """Lovasz-Softmax loss (multiclass): per class, the Lovasz extension of the Jaccard loss on ``|1[y = c] - p_c|``.

    Berman et al., CVPR 2018, Sec. 3.3 (Alg. 1 applied to the softmax errors of each class); averaged over the classes
    present in the target (the paper's default), so absent classes add nothing (every class, background included,
    is scored, so it has no ``symmetric`` option).

    Args: ``per_image``, ``ignore_index`` and ``reduction`` as :class:`LovaszHingeLoss`; ``from_logits=False``
    means the input holds softmax probabilities.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target, valid = prepare(logits, target, "multiclass", self.from_logits, self.ignore_index)
        probs = logits.softmax(dim=1).permute(0, 2, 3, 1)  # (N, H, W, C)
        return self._over_images(_lovasz_softmax_flat, probs, target, valid)
