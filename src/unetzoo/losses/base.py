"""Shared plumbing of the losses: argument checks, target/logit normalisation, reduction, weighted sums.

Conventions (smp-style ``mode``, MONAI-style ``reduction`` / ``ignore_index``):

* ``mode="binary"``: logits (N, 1, H, W) or (N, H, W); targets (N, H, W) or (N, 1, H, W) in {0, 1}.
* ``mode="multiclass"``: logits (N, C, H, W); targets (N, H, W) (or (N, 1, H, W)) of class ids.
* ``from_logits=False`` means the input already holds probabilities (sigmoid / softmax outputs). They are
  mapped back to logits (``logit(p)`` for binary, ``log(p)`` for multiclass, clamped at ``EPS``), so every
  loss has a single, numerically stable logits path.
* ``ignore_index``: target pixels with this value contribute nothing (neither to the sums nor to the counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

Mode = Literal["binary", "multiclass"]
Reduction = Literal["mean", "sum", "none"]
MODES = ("binary", "multiclass")
REDUCTIONS = ("mean", "sum", "none")
EPS = 1e-7


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def reduce_pixels(loss: torch.Tensor, valid: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce a per-pixel loss map (N, H, W): ``mean`` over valid pixels, ``sum``, or the map (0 where ignored)."""
    loss = loss * valid
    if reduction == "mean":
        return loss.sum() / valid.sum().clamp_min(1)
    return reduce_loss(loss, reduction)


def prepare(
    logits: torch.Tensor, target: torch.Tensor, mode: str, from_logits: bool, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise inputs to ``(logits (N, C, H, W), target (N, H, W) long, valid (N, H, W) bool)``.

    Ignored pixels get target 0 (and ``valid`` False) so they can be one-hot encoded safely.
    """
    if mode == "binary" and logits.ndim == 3:
        logits = logits.unsqueeze(1)
    if target.ndim == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if logits.ndim != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"expected logits (N, C, H, W) and target (N, H, W); got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if mode == "binary" and logits.shape[1] != 1:
        raise ValueError(f"binary mode needs one logit channel, got {logits.shape[1]}; use mode='multiclass'")
    if not from_logits:
        logits = torch.logit(logits, eps=EPS) if mode == "binary" else logits.clamp_min(EPS).log()
    target = target.long()
    if ignore_index is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    else:
        valid = target != ignore_index
        target = torch.where(valid, target, torch.zeros_like(target))
    return logits, target, valid


def probabilities_and_one_hot(
    logits: torch.Tensor, target: torch.Tensor, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities and the matching float one-hot target, both (N, C, H, W) (C = 1 in binary mode)."""
    if mode == "binary":
        return logits.sigmoid(), target.unsqueeze(1).to(logits.dtype)
    one_hot = nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)
    return logits.softmax(dim=1), one_hot.to(logits.dtype)


class Loss(nn.Module):
    """Base class: ``loss(logits, target) -> Tensor``, with ``+`` and ``*`` building a :class:`WeightedSum`.

    >>> combo = DiceLoss("binary") + 0.5 * BCELoss()  # doctest: +SKIP
    """

    def terms(self) -> list[tuple[float, nn.Module]]:
        return [(1.0, self)]

    def __add__(self, other: Loss) -> WeightedSum:
        return WeightedSum(self.terms() + other.terms())

    def __mul__(self, weight: float) -> WeightedSum:
        return WeightedSum([(weight * w, loss) for w, loss in self.terms()])

    __rmul__ = __mul__


class WeightedSum(Loss):
    """Weighted sum of losses, ``sum_k w_k * L_k(logits, target)``.

    Each term must reduce to a scalar (``reduction="mean"`` or ``"sum"``). ``a + b`` and ``w * a`` on any
    :class:`Loss` build one (flattened, so ``0.5 * (a + b)`` is ``0.5 a + 0.5 b``).

    Args:
        terms: ``[(weight, loss), ...]``.
    """

    def __init__(self, terms: Sequence[tuple[float, nn.Module]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("WeightedSum needs at least one (weight, loss) term")
        self.weights = [float(w) for w, _ in terms]
        self.losses = nn.ModuleList(loss for _, loss in terms)

    def terms(self) -> list[tuple[float, nn.Module]]:
        return list(zip(self.weights, self.losses, strict=True))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(w * loss(logits, target) for w, loss in self.terms())  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"weights={self.weights}"
