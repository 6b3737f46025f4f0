"""``build_loss``: losses from a short spec string, as used by ``unetzoo train --loss``."""

from __future__ import annotations

import re
from collections.abc import Callable

from torch import nn

from unetzoo.errors import UnetzooError
from unetzoo.losses.base import Mode, WeightedSum, check_mode
from unetzoo.losses.ce import BCELoss, CrossEntropyLoss
from unetzoo.losses.combos import UNetSharpLoss
from unetzoo.losses.dice import DiceLoss, TverskyLoss
from unetzoo.losses.focal import FocalLoss
from unetzoo.losses.lovasz import LovaszHingeLoss, LovaszSoftmaxLoss


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
    for raw in spec.lower().replace(" ", "").split("+"):
        match = _TERM.match(raw)
        if match is None or match.group(2) not in LOSSES:
            raise UnetzooError(
                f"bad loss term {raw!r} in {spec!r}: use [weight*]name joined by '+', names: {', '.join(LOSSES)}",
                exit_code=2,
            )
        weight = float(match.group(1)) if match.group(1) else 1.0
        try:
            terms.append((weight, LOSSES[match.group(2)](mode)))
        except ValueError as err:
            raise UnetzooError(f"loss {raw!r} in {spec!r}: {err}", exit_code=2) from err
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1]
    return WeightedSum(terms)
