"""Wall-clock measurements: latency statistics, inference and training throughput, the matmul peak.

Every timing loop is *interleaved*: with several callables, each round calls each once, so a load change
on a shared machine hits every model alike and same-run ratios stay meaningful even when absolute numbers
drift. Latency is reported as median and p90 (and min, the least disturbed run) over ``runs`` calls after
``warmup`` rounds. Thread count: :func:`num_threads`.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unetzoo.engine.distributed import autocast
from unetzoo.engine.train import training_memory_format

Call = Callable[[], object]


@dataclass(frozen=True)
class LatencyStats:
    """Latency of ``runs`` timed calls, in milliseconds; ``seconds`` keeps each call in round order."""

    median_ms: float
    p90_ms: float
    min_ms: float
    runs: int
    seconds: tuple[float, ...] = field(repr=False, default=())

    @classmethod
    def from_seconds(cls, seconds: Sequence[float]) -> LatencyStats:
        if not seconds:
            raise ValueError("no timings")
        ms = np.asarray(seconds, dtype=np.float64) * 1e3
        return cls(float(np.median(ms)), float(np.percentile(ms, 90)), float(ms.min()), len(ms), tuple(seconds))

    def per_second(self, items: int) -> float:
        """Items per second at the median latency (``items`` processed per call)."""
        return items / (self.median_ms / 1e3)

    def as_dict(self) -> dict[str, float]:
        """The statistics (not the raw ``seconds``)."""
        return {k: v for k, v in asdict(self).items() if k != "seconds"}


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)`` (None: leave it), restoring the old count."""
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def time_interleaved(
    calls: Mapping[str, Call], *, runs: int, warmup: int = 3, clock: Callable[[], float] = time.perf_counter
) -> dict[str, LatencyStats]:
    """Time each callable ``runs`` times, round-robin, after ``warmup`` untimed rounds.

    ``clock`` is wall time by default. ``time.thread_time`` (CPU time of the calling thread) is a load-proof
    proxy at *one* torch thread, where every kernel runs in the calling thread: it does not count the time
    the thread waits for a core that other processes hold.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for _ in range(warmup):
        for call in calls.values():
            call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = clock()
            call()
            seconds[name].append(clock() - start)
    return {name: LatencyStats.from_seconds(s) for name, s in seconds.items()}


def _logits(output: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [output] if isinstance(output, torch.Tensor) else list(output)


def train_step(
    model: nn.Module,
    batch: torch.Tensor,
    *,
    lr: float = 1e-3,
    seed: int = 0,
    memory_format: torch.memory_format | None = None,
    amp: bool = False,
) -> Call:
    """One training step as a callable: forward, BCE-with-logits against a fixed random mask, backward, Adam.

    Trains a copy of ``model`` (returned as ``step.model``) in training mode and in ``memory_format``, by default
    the layout ``unetzoo train`` gives this model (:func:`unetzoo.engine.train.training_memory_format`), so the
    original keeps its layout and weights for inference timing. ``amp``: the forward under bf16 autocast, as
    ``unetzoo train --amp`` runs it on a CPU. A model returning side outputs (deep supervision) is trained on the
    sum of their losses. Adam uses torch's defaults (the for-loop implementation on CPU).
    """
    layout = memory_format or training_memory_format(batch.device, model)
    model = copy.deepcopy(model).train().to(memory_format=layout)
    batch = batch.contiguous(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    target: torch.Tensor | None = None

    def step() -> None:
        nonlocal target
        optimizer.zero_grad(set_to_none=True)
        with autocast(batch.device, amp, "bf16"):
            outputs = _logits(model(batch))
        if target is None:
            target = (torch.rand(outputs[-1].shape, generator=generator) > 0.5).float()
        loss = sum(F.binary_cross_entropy_with_logits(o.float(), target) for o in outputs)
        loss.backward()
        optimizer.step()

    step.model = model  # type: ignore[attr-defined]
    return step


def matmul_call(size: int = 2048) -> tuple[Call, int]:
    """A callable multiplying two random ``size x size`` fp32 matrices with ``torch.mm``, and its FLOPs."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    out = torch.empty(size, size)
    return (lambda: torch.mm(a, b, out=out)), 2 * size**3


def gflops(flops: int, stats: LatencyStats, *, best: bool = False) -> float:
    """GFLOP/s of ``flops`` done in the median (or, with ``best``, the fastest) call of ``stats``."""
    return flops / ((stats.min_ms if best else stats.median_ms) / 1e3) / 1e9


def matmul_peak_gflops(*, size: int = 2048, repeats: int = 5, clock: Callable[[], float] = time.perf_counter) -> float:
    """The machine's fp32 matmul peak at the current thread count: the best of ``repeats`` ``torch.mm`` calls.

    The best call is reported because a busy machine only ever slows a call down; on a shared machine, also
    put :func:`matmul_call` into the timed rounds and keep the best of both (``bench`` does).
    ``clock``: as in :func:`time_interleaved`.
    """
    call, flops = matmul_call(size)
    return gflops(flops, time_interleaved({"mm": call}, runs=repeats, warmup=1, clock=clock)["mm"], best=True)
