"""Inference-time structural re-parameterisation, and the switch that counts a model as it is defined.

Some blocks compute the same function in a cheaper form once training is over (RepVGG-style): U-Lite's
axial depthwise pair becomes one k x k depthwise conv in eval mode (:class:`unetzoo.layers.axial.AxialDW`).
The cheaper form may do *more* multiply-adds while running faster (one dense depthwise kernel instead of
two thin ones and two adds), so complexity tables must count the architecture as the paper defines it:
:func:`as_defined` turns every re-parameterisation off for the duration of a ``with`` block, and
``unetzoo.profile`` counts MACs inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ENABLED: ContextVar[bool] = ContextVar("unetzoo_reparam", default=True)


def reparam_enabled() -> bool:
    """Whether eval-mode blocks may run their re-parameterised form (default: yes)."""
    return _ENABLED.get()


@contextmanager
def as_defined() -> Iterator[None]:
    """Run every block in its defining (paper) form inside the ``with`` block, eval mode included."""
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)
