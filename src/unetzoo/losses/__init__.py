"""Segmentation losses with smp/MONAI-style signatures (``mode``, ``from_logits``, ``reduction``, ``ignore_index``).

Every loss takes ``(logits, target)``: logits (N, C, H, W) (C = 1 in ``binary`` mode), targets (N, H, W) class
ids ({0, 1} in binary mode). ``a + b`` and ``w * a`` combine losses into a :class:`WeightedSum`;
:func:`build_loss` parses the CLI's ``--loss`` strings; :func:`training_losses` adds what a model needs in training
(deep supervision, the classification-guided modules' BCE).
"""

from unetzoo.losses.base import Loss, WeightedSum
from unetzoo.losses.ce import BCELoss, CrossEntropyLoss
from unetzoo.losses.combos import ClassificationGuidanceLoss, DeepSupervisionLoss, GuidedLoss, UNetSharpLoss
from unetzoo.losses.dice import DiceLoss, TverskyLoss
from unetzoo.losses.factory import LOSSES, build_loss, training_losses
from unetzoo.losses.focal import FocalLoss
from unetzoo.losses.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss, lovasz_grad

__all__ = [
    "LOSSES",
    "BCELoss",
    "ClassificationGuidanceLoss",
    "CrossEntropyLoss",
    "DeepSupervisionLoss",
    "DiceLoss",
    "FocalLoss",
    "GuidedLoss",
    "Loss",
    "LovaszHingeLoss",
    "LovaszSoftmaxLoss",
    "TverskyLoss",
    "UNetSharpLoss",
    "WeightedSum",
    "build_loss",
    "lovasz_grad",
    "training_losses",
]
