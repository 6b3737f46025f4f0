"""Inference engines for ``unetzoo bench --engines``: how a model is turned into a callable that runs a batch.

An :class:`Engine` has a name and a ``build(model, example, threads)`` that prepares the model once (export,
quantise, fold, ...) and returns ``run(batch)``, where ``batch`` is an (N, C, H, W) float32 numpy array or
tensor and the return value is the logits in whatever form the engine produces. ``example`` is a batch of
the benchmarked shape (exporters trace with it; the batch dimension must stay dynamic, since throughput
runs at batch 8); ``threads`` is the intra-op thread count the engine must use. ``run`` must not leave
threads spinning once it returns (onnxruntime: session config ``session.intra_op.allow_spinning = "0"``):
the bench interleaves models and engines, and a spinning pool steals the cores from the next call (measured
on the quiet 2-core machine: MONAI UNet eager right after a ulite session, 11.9 ms median without spinning,
30.6 ms with it; the session itself: 11.2 ms without spinning, 11.9 ms with).

Built in: ``eager`` (the model as is, ``torch.inference_mode``), ``eager-fused``
(:func:`unetzoo.deploy.optimize.fuse_for_inference`: BN and WS folded, axial convs merged, channels_last),
``eager-bf16`` (``eager-fused`` under bf16 autocast, logits returned in fp32), and ``compiled`` /
``compiled-bf16`` (``eager-fused`` / ``eager-bf16`` through ``torch.compile``, compiled at build time on the
example; each new input shape compiles again, so they suit a long-running server, not a one-off command).
Engines from other modules register themselves on import (:func:`register_engine`); :data:`PROVIDERS`
names the module providing each planned engine, imported on first use, so ``onnx`` and ``onnx-int8`` plug
in from ``unetzoo.deploy`` without a change here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unetzoo.deploy.optimize import fuse_for_inference
from unetzoo.engine.distributed import autocast
from unetzoo.errors import UnetzooError

Batch = np.ndarray | torch.Tensor
Runner = Callable[[Batch], object]
Builder = Callable[[nn.Module, torch.Tensor, int], Runner]


@dataclass(frozen=True)
class Engine:
    """A way to run a model: ``build(model, example, threads)`` returns ``run(batch)``."""

    name: str
    description: str
    build: Builder


PROVIDERS: dict[str, str] = {
    "onnx": "unetzoo.deploy.engines",
    "onnx-int8": "unetzoo.deploy.engines",
    "openvino": "unetzoo.deploy.openvino",
    "openvino-bf16": "unetzoo.deploy.openvino",
}
"""Planned engine -> module that registers it when imported (the deployment issue)."""
EXTRAS: dict[str, str] = {"unetzoo.deploy.engines": "export", "unetzoo.deploy.openvino": "openvino"}
"""Provider module -> the optional dependency group (``pip install 'unetzoo[GROUP]'``) its imports need."""

_ENGINES: dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    """Make ``engine`` available under ``engine.name`` (a second registration of a name is an error)."""
    if engine.name in _ENGINES:
        raise ValueError(f"engine {engine.name!r} is registered twice")
    _ENGINES[engine.name] = engine
    return engine


def list_engines() -> list[str]:
    """Names of the registered and the planned engines, sorted."""
    return sorted({*_ENGINES, *PROVIDERS})


def get_engine(name: str) -> Engine:
    """The engine called ``name``, importing its provider module if needed.

    Raises:
        UnetzooError: unknown name, or a planned engine whose module or dependency is not installed.
    """
    if name not in _ENGINES and name in PROVIDERS:
        module = PROVIDERS[name]
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                raise UnetzooError(f"engine {name!r} is not available yet: it comes with {module}") from None
            raise UnetzooError(
                f"engine {name!r} needs the package {exc.name!r}: pip install 'unetzoo[{EXTRAS[module]}]'"
            ) from None
    if name not in _ENGINES:
        raise UnetzooError(f"unknown engine {name!r}; choose from: {', '.join(list_engines())}", exit_code=2)
    return _ENGINES[name]


def _as_tensor(batch: Batch) -> torch.Tensor:
    return torch.from_numpy(batch) if isinstance(batch, np.ndarray) else batch


def torch_runner(model: nn.Module) -> Runner:
    """``run(batch)``: ``model`` in eval mode under ``torch.inference_mode`` (threads: torch's setting)."""
    model.eval()

    def run(batch: Batch) -> torch.Tensor:
        with torch.inference_mode():
            return model(_as_tensor(batch))

    return run


def _eager(model: nn.Module, example: torch.Tensor, threads: int) -> Runner:
    return torch_runner(model)


def _fused(bf16: bool = False, compiled: bool = False) -> Builder:
    """``eager-fused`` and its variants: under bf16 autocast (logits returned in fp32) and/or through
    ``torch.compile`` (compiled at build time on the example, not inside the first timed call)."""

    def build(model: nn.Module, example: torch.Tensor, threads: int) -> Runner:
        fused = fuse_for_inference(model, example).eval()
        network = torch.compile(fused) if compiled else fused

        def run(batch: Batch) -> torch.Tensor:
            with torch.inference_mode(), autocast(torch.device("cpu"), bf16, "bf16"):
                return network(_as_tensor(batch)).float()

        if compiled:
            run(example)
        return run

    return build


register_engine(Engine("eager", "PyTorch eager, the model as built", _eager))
register_engine(Engine("eager-fused", "PyTorch eager after fuse_for_inference (BN/WS folded, ...)", _fused()))
register_engine(
    Engine("eager-bf16", "eager-fused under bf16 autocast (fast where the CPU has native bf16)", _fused(True))
)
register_engine(Engine("compiled", "eager-fused through torch.compile (inductor)", _fused(compiled=True)))
register_engine(Engine("compiled-bf16", "eager-bf16 through torch.compile (inductor)", _fused(True, compiled=True)))
