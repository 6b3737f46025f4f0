"""Inference-time structural re-parameterisation, and the switch that counts a model as it is defined.

Some blocks compute the same function in a cheaper form once training is over (RepVGG-style): in U-Lite
(:mod:`unetzoo.layers.axial`) each axial depthwise pair becomes one k x k depthwise conv and every
BatchNorm is folded into the conv next to it, in eval mode without autograd (:func:`use_reparam`), from
kernels cached until the weights change (:class:`EvalCache`).
The cheaper form may do *more* multiply-adds while running faster (one dense depthwise kernel instead of
two thin ones and two adds), so complexity tables must count the architecture as the paper defines it:
:func:`as_defined` turns every re-parameterisation off for the duration of a ``with`` block, and
``unetzoo.profile`` counts MACs inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")

_ENABLED: ContextVar[bool] = ContextVar("unetzoo_reparam", default=True)


@torch.compiler.assume_constant_result  # a ContextVar read would break the graph at every block
def reparam_enabled() -> bool:
    """Whether eval-mode blocks may run their re-parameterised form (default: yes). ``torch.compile`` reads it
    once, when it traces: a model compiled outside :func:`as_defined` keeps the re-parameterised form inside."""
    return _ENABLED.get()


@contextmanager
def as_defined() -> Iterator[None]:
    """Run every block in its defining (paper) form inside the ``with`` block, eval mode included."""
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def use_reparam(module: nn.Module) -> bool:
    """True when ``module`` may run its re-parameterised form: eval mode, no autograd, not :func:`as_defined`.

    Under autograd the defining form runs, so gradients reach every original parameter as in training.
    """
    return not module.training and not torch.is_grad_enabled() and reparam_enabled()


class EvalCache:
    """Tensors derived from a module's parameters and buffers (merged or folded kernels) for inference.

    :meth:`get` rebuilds them whenever any source tensor is replaced or updated in place (an optimizer step,
    ``load_state_dict``, ``.to()``): the key is each source's storage address and version counter. Sources
    that are inference tensors (no version counter) are rebuilt on every call.
    """

    def __init__(self) -> None:
        self._key: tuple[int, ...] | None = None
        self._value: Any = None

    def get(self, sources: Sequence[torch.Tensor], build: Callable[[], T]) -> T:
        if torch.compiler.is_compiling() or any(torch.is_inference(t) for t in sources):
            return build()  # under torch.compile the fold is traced into the graph (a cache would break it)
        key = tuple(v for t in sources for v in (t.data_ptr(), t._version))
        if key != self._key:
            self._value, self._key = build(), key
        return self._value  # type: ignore[no-any-return]


def batchnorm_affine(norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``scale * x + shift`` per channel."""
    scale = torch.rsqrt(norm.running_var + norm.eps)  # type: ignore[operator]
    if norm.affine:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale  # type: ignore[operator]
    if norm.affine:
        shift = shift + norm.bias
    return scale, shift


def batchnorm_sources(norm: nn.BatchNorm2d) -> list[torch.Tensor]:
    """The tensors an eval-mode BatchNorm depends on (for :class:`EvalCache` keys)."""
    return [t for t in (norm.running_mean, norm.running_var, norm.weight, norm.bias) if t is not None]
