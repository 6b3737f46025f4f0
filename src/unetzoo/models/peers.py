"""Peer models from other libraries, wrapped to look like unetzoo models (rows of ``bench`` and ``compare``).

``--peers monai`` adds the networks a MONAI user would otherwise pick, built with 2D settings and the
caller's ``in_channels``/``classes``:

* ``monai_unet``: ``UNet(channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)``
  (1,625,420 parameters at 3 -> 1 channels);
* ``monai_basicunet``: ``BasicUNet()`` with MONAI's default features (32, 32, 64, 128, 256, 32);
* ``monai_attentionunet``: ``AttentionUnet(channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2))``
  (MONAI has no default widths; these are ``monai_unet``'s);
* ``monai_basicunetpp``: ``BasicUNetPlusPlus()`` with MONAI's default features; of its list output only
  the last (full-resolution) logits are returned.

Every other argument keeps MONAI's default (instance norm for UNet, BasicUNet and BasicUNetPlusPlus,
batch norm for AttentionUnet). MONAI is imported only when a peer is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from unetzoo.errors import UnetzooError
from unetzoo.models.base import SegmentationModel, Supports
from unetzoo.models.registry import create_model, register_model

PEER_INPUT_MULTIPLE = 16
"""Four stride-2 levels: MONAI's UNet and AttentionUnet need H and W divisible by 16 (mirror-padded here)."""

_WIDTHS = (16, 32, 64, 128, 256)
_STRIDES = (2, 2, 2, 2)

_MONAI: dict[str, tuple[str, dict[str, Any]]] = {
    "monai_unet": ("UNet", {"channels": _WIDTHS, "strides": _STRIDES, "num_res_units": 2}),
    "monai_basicunet": ("BasicUNet", {}),
    "monai_attentionunet": ("AttentionUnet", {"channels": _WIDTHS, "strides": _STRIDES}),
    "monai_basicunetpp": ("BasicUNetPlusPlus", {}),
}
PEER_SOURCES: dict[str, list[str]] = {"monai": list(_MONAI)}


class PeerModel(SegmentationModel):
    """A foreign network as a :class:`SegmentationModel`: any H, W (mirror padding), logits out.

    Args:
        net: the wrapped network, taking (N, in_channels, H, W) with H, W multiples of ``input_multiple``.
        in_channels, classes: what ``net`` was built with.
        input_multiple: the size ``net`` needs H and W divisible by.
    """

    supports = Supports(traceable=False, onnx=False)  # not verified for foreign code
    channels_last = False  # run as MONAI's users run them; benchmarks/layout.py: no faster in channels_last

    def __init__(self, net: nn.Module, in_channels: int, classes: int, input_multiple: int) -> None:
        super().__init__(in_channels, classes, input_multiple=input_multiple)
        self.net = net

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[-1] if isinstance(out, (list, tuple)) else out


def _monai_net(class_name: str) -> Callable[..., nn.Module]:
    try:
        nets = importlib.import_module("monai.networks.nets")
    except ModuleNotFoundError:
        raise UnetzooError("the MONAI peers need monai: pip install 'unetzoo[peers]'") from None
    return getattr(nets, class_name)


def list_peers(source: str) -> list[str]:
    """Peer model names from ``source`` (``"monai"``)."""
    if source not in PEER_SOURCES:
        raise UnetzooError(f"unknown peer source {source!r}; choose from: {', '.join(PEER_SOURCES)}", exit_code=2)
    return list(PEER_SOURCES[source])


def create_peer(name: str, *, in_channels: int = 3, classes: int = 1) -> PeerModel:
    """Build the peer ``name`` (see the module table) wrapped as a :class:`PeerModel`."""
    if name not in _MONAI:
        raise UnetzooError(f"unknown peer {name!r}; choose from: {', '.join(_MONAI)}", exit_code=2)
    class_name, kwargs = _MONAI[name]
    net = _monai_net(class_name)(spatial_dims=2, in_channels=in_channels, out_channels=classes, **kwargs)
    return PeerModel(net, in_channels, classes, PEER_INPUT_MULTIPLE)


def build_model(name: str, *, in_channels: int = 3, classes: int = 1) -> SegmentationModel:
    """A registered unetzoo model (default preset) or a peer, by name."""
    return create_model(name, in_channels=in_channels, classes=classes)


def _register_peers() -> None:
    """Make every peer buildable by ``create_model`` (hidden from ``list_models``), so the training engine,
    checkpoints, ``eval``, ``predict`` and ``compare`` treat them like any unetzoo model."""
    for name, (class_name, _) in _MONAI.items():

        def builder(*, in_channels: int = 1, classes: int = 1, _name: str = name) -> PeerModel:
            return create_peer(_name, in_channels=in_channels, classes=classes)

        register_model(name, paper=f"MONAI {class_name} (peer, 2D)", hidden=True)(builder)


_register_peers()
