"""Losses from a short spec string, as used by ``unetzoo train --loss``: :func:`build_loss` for the segmentation
terms, :func:`training_losses` for what a training run of a given model optimises."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from torch import nn

from unetzoo.errors import UnetzooError
from unetzoo.layers.cgm import Guidance
from unetzoo.losses.base import Mode, WeightedSum, check_mode
from unetzoo.losses.ce import BCELoss, CrossEntropyLoss
from unetzoo.losses.combos import DeepSupervisionLoss, GuidedLoss, UNetSharpLoss
from unetzoo.losses.dice import DiceLoss, TverskyLoss
from unetzoo.losses.focal import FocalLoss
from unetzoo.losses.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss
from unetzoo.losses.regions import RegionLoss


def _cross_entropy(mode: str) -> nn.Module:
    return BCELoss() if mode == "binary" else CrossEntropyLoss()


def _lovasz(mode: str) -> nn.Module:
    return LovaszHingeLoss(per_image=True) if mode == "binary" else LovaszSoftmaxLoss(per_image=True)


LOSSES: dict[str, Callable[[str], nn.Module]] = {
    "bce": _cross_entropy,
    "ce": _cross_entropy,
    "dice": lambda mode: DiceLoss(mode),  # type: ignore[arg-type]
    "dice_fgbg": lambda mode: DiceLoss(mode, binary_background=mode == "binary"),  # type: ignore[arg-type]
    "focal": lambda mode: FocalLoss(mode),  # type: ignore[arg-type]
    "tversky": lambda mode: TverskyLoss(mode),  # type: ignore[arg-type]
    "lovasz": _lovasz,
    "lovasz_fgbg": lambda mode: (
        LovaszHingeLoss(per_image=True, symmetric=True) if mode == "binary" else LovaszSoftmaxLoss(per_image=True)
    ),
    "unetsharp": lambda mode: UNetSharpLoss(mode),  # type: ignore[arg-type]
    "unetsharp_code": lambda mode: UNetSharpLoss(mode, variant="code"),  # type: ignore[arg-type]
}
_TERM = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?([a-z_]+)$")
CGM_TERM = "cgm"
"""Name of the classification-guided modules' BCE term in a spec (``"bce+dice+0.5*cgm"``): training only."""
CGM_WEIGHT = 1.0
"""Weight of the CGM term when the spec does not give one: UNet 3+ (Sec. 2.3) adds its BCE unweighted."""


def _terms(spec: str) -> list[tuple[str, float, str]]:
    """``[(raw term, weight, name), ...]`` of a spec; a malformed term is a UnetzooError (exit code 2)."""
    terms = []
    for raw in spec.lower().replace(" ", "").split("+"):
        match = _TERM.match(raw)
        if match is None or match.group(2) not in (*LOSSES, CGM_TERM):
            raise UnetzooError(
                f"bad loss term {raw!r} in {spec!r}: use [weight*]name joined by '+', names: "
                f"{', '.join(LOSSES)} (and {CGM_TERM} for a model with a classification-guided module)",
                exit_code=2,
            )
        terms.append((raw, float(match.group(1)) if match.group(1) else 1.0, match.group(2)))
    return terms


def build_loss(spec: str, mode: Mode = "binary") -> nn.Module:
    """Build a loss from ``"[w*]name + [w*]name ..."``, e.g. ``"dice+bce"``, ``"0.5*focal+dice+0.5*lovasz"``.

    Names (defaults of each class): ``bce``/``ce`` (the mode's cross-entropy: :class:`BCELoss` in binary
    mode, :class:`CrossEntropyLoss` in multiclass mode), ``dice``, ``dice_fgbg`` (binary: Dice of foreground
    and background averaged, as MIoU averages them; multiclass: ``dice``), ``focal`` (gamma 2), ``tversky``
    (alpha 0.3, beta 0.7), ``lovasz`` (hinge per image in binary mode, Lovasz-Softmax per image in multiclass
    mode), ``unetsharp`` (the UNet# hybrid, paper form) and ``unetsharp_code`` (as in the authors' code).
    A single unweighted term returns that loss itself; otherwise a :class:`WeightedSum`.

    Raises:
        UnetzooError: (exit code 2) on an unknown name or a malformed term.
    """
    check_mode(mode)
    terms: list[tuple[float, nn.Module]] = []
    for raw, weight, name in _terms(spec):
        if name == CGM_TERM:
            raise UnetzooError(
                f"loss term {raw!r} in {spec!r} trains a model's classification-guided module: it needs the model; "
                "use it in `unetzoo train --loss` (or training_losses) with a model built with a CGM",
                exit_code=2,
            )
        try:
            terms.append((weight, LOSSES[name](mode)))
        except ValueError as err:
            raise UnetzooError(f"loss {raw!r} in {spec!r}: {err}", exit_code=2) from err
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1]
    return WeightedSum(terms)


def training_losses(
    spec: str, mode: Mode, model: nn.Module, regions: Sequence[Sequence[int]] | None = None
) -> tuple[nn.Module, nn.Module]:
    """The (validation, training) losses of ``model`` for a ``--loss`` spec.

    * validation: the spec's segmentation terms (:func:`build_loss`), on the final output; with ``regions``
      (region-based training, one sigmoid output per region) the terms in binary mode, averaged over the
      regions (:class:`~unetzoo.losses.regions.RegionLoss`);
    * training: the same, averaged over the side outputs (:class:`DeepSupervisionLoss`) whenever the model
      returns them, i.e. was built with deep supervision, by ``--deep-supervision`` or by its preset; plus,
      for a model with classification-guided modules (``model.cgm``, UNet 3+ / UNet# Sec. 2.3), their BCE on
      "the image contains the object" (:class:`GuidedLoss`), weighted by the spec's ``w*cgm`` term if it has
      one, else by :data:`CGM_WEIGHT`. Without that term the CGMs would never be trained (nor gate).

    Raises:
        UnetzooError: (exit code 2) on a bad spec, or a ``cgm`` term for a model without a CGM.
    """
    terms = _terms(spec)
    cgm_weights = [weight for _, weight, name in terms if name == CGM_TERM]
    segmentation = [raw for raw, _, name in terms if name != CGM_TERM]
    guidance = getattr(model, "cgm", None)
    if cgm_weights and not isinstance(guidance, Guidance):
        raise UnetzooError(
            f"--loss {spec!r} has a {CGM_TERM} term but the model has no classification-guided module; "
            f"drop the term or build the model with a CGM",
            exit_code=2,
        )
    if not segmentation or len(cgm_weights) > 1:
        raise UnetzooError(f"--loss {spec!r}: give segmentation terms and at most one {CGM_TERM} term", exit_code=2)
    validation = build_loss("+".join(segmentation), "binary" if regions else mode)
    if regions:
        validation = RegionLoss(validation, regions)
    training = DeepSupervisionLoss(validation) if getattr(model, "deep_supervision", False) else validation
    if isinstance(guidance, Guidance):
        training = GuidedLoss(training, guidance, cgm_weights[0] if cgm_weights else CGM_WEIGHT)
    return validation, training
