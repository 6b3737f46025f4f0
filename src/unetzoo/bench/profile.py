"""Model complexity: parameters, MACs/FLOPs, weight bytes and peak activation memory.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts convolutions, transposed
convolutions and matrix products (the "conv" convention of ../docs/models.md); elementwise ops, norms,
pooling and resampling count zero. Convention: **FLOPs = 2 x MACs** (one multiply-add = 2 FLOPs), so
MACs = FLOPs / 2. Papers that print "GFLOPs" usually mean GMACs. MACs count the architecture as defined,
with inference re-parameterisations off (:func:`unetzoo.layers.reparam.as_defined`).

Peak activation memory is measured, not estimated: a dispatch mode sees every tensor an op creates during
one eval-mode inference and tracks the bytes of storages still alive; the peak of that sum is reported.
Weights are excluded (see ``weight_bytes``).
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from unetzoo.layers.reparam import as_defined


@dataclass(frozen=True)
class Profile:
    """Complexity of one model at one input shape (batch included)."""

    input_shape: tuple[int, ...]
    params: int
    macs: int
    flops: int
    weight_bytes: int
    peak_activation_bytes: int

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["gmacs"] = self.gmacs
        return d


def count_params(model: nn.Module) -> int:
    """``sum(p.numel() for p in model.parameters())``: includes norm affine weights, not BN running stats."""
    return sum(p.numel() for p in model.parameters())


class _LiveBytes(TorchDispatchMode):
    """Track the bytes of tensor storages created by ops and still referenced; remember the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}  # storage data_ptr -> bytes
        self.refs: dict[int, int] = {}  # storage data_ptr -> live tensors referring to it
        self.current = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.current -= self.live.pop(key)
            del self.refs[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key not in self.live:
                    self.live[key] = storage.nbytes()
                    self.refs[key] = 0
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                self.refs[key] += 1
                weakref.finalize(t, self._release, key)
        return out


def peak_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes of intermediate tensors alive during one eval-mode, no-grad forward pass."""
    tracker = _LiveBytes()
    with torch.no_grad(), tracker:
        out = model(x)
    del out
    return tracker.peak


def profile(model: nn.Module, input_shape: tuple[int, ...] | list[int], *, memory: bool = True) -> Profile:
    """Measure params, MACs/FLOPs, weight bytes and (optionally) peak activation memory.

    Args:
        model: any module taking one (N, C, H, W) tensor; it is put in eval mode and restored after.
            A model on the ``meta`` device is counted without computing anything (memory is then 0).
        input_shape: (N, C, H, W) or (C, H, W) (batch 1 is then assumed).
        memory: also measure peak activation memory (one extra forward pass).
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = torch.randn(shape, device=device)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), as_defined(), counter:  # MACs of the architecture as the paper defines it
            model(x)
        flops = int(counter.get_total_flops())
        peak = peak_activation_bytes(model, x) if memory and device.type != "meta" else 0
    finally:
        model.train(was_training)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    weight_bytes += sum(b.numel() * b.element_size() for b in model.buffers())
    return Profile(shape, count_params(model), flops // 2, flops, weight_bytes, peak)
