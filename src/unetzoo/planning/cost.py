"""How fast and how memory-hungry a network trains on this CPU: the planner's step-time and memory model.

A training step of batch ``B`` at ``P`` pixels per sample takes ``overhead + seconds_per_px * B * P`` seconds
(a line through two measured steps, at 64x64 and 128x128, batch 2, in the layout ``unetzoo train`` uses);
its activations hold ``bytes_per_px * B * P`` bytes (the tensors autograd saves for backward, counted with
``torch.autograd.graph.saved_tensors_hooks``). Inference runs at ``infer_px_per_s``. Measured once per
(model, options, threads, CPU, torch version) and cached (:func:`unetzoo.utils.cache.cache_dir`), so plans
are deterministic on a machine; a few seconds for the light models.

The line is only a first guess for large steps: once a step's saved activations outgrow the CPU's caches it
becomes memory-bound, and on 2 cores a ulite step of 4 x 544x704 took 3.0 s where the line said 1.1 s.
:func:`step_seconds_at` therefore times one real step at the batch and patch a plan chooses (the planner's
operating point), and the planner corrects its choice with it (:func:`unetzoo.planning.make_plan`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from unetzoo.utils.atomic import atomic_write_text
from unetzoo.utils.cache import cache_dir

VERSION = 2
"""Bumped when the engine's step speed changes (2: the MONAI peers train in NCHW), so cached timings of the
older code are measured again."""
SIZES = (64, 128)
BATCH = 2


@dataclass(frozen=True)
class ModelCost:
    """Step-time and memory model of one network on this machine."""

    overhead_s: float  # fixed seconds per training step
    seconds_per_px: float  # training seconds per input pixel (forward, backward, optimizer)
    bytes_per_px: float  # activation bytes saved for backward per input pixel
    infer_px_per_s: float  # inference pixels per second (no autograd)
    params: int
    input_multiple: int
    threads: int
    version: int = VERSION

    def step_seconds(self, batch: int, pixels: int) -> float:
        return self.overhead_s + self.seconds_per_px * batch * pixels

    def train_px_per_s(self, batch: int, pixels: int) -> float:
        return batch * pixels / self.step_seconds(batch, pixels)

    def slowed(self, factor: float) -> ModelCost:
        """This model with every training step ``factor`` times slower (a measured operating point's ratio)."""
        return replace(self, overhead_s=self.overhead_s * factor, seconds_per_px=self.seconds_per_px * factor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _key(spec: dict[str, Any], threads: int) -> str:
    ident = {**spec, "threads": threads, "cpu": _cpu_name(), "torch": torch.__version__, "version": VERSION}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _saved_bytes(model: torch.nn.Module, batch: torch.Tensor) -> int:
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = model(batch)
    del output
    return total


def _network(spec: dict[str, Any]) -> torch.nn.Module:
    """The network a plan's ``spec`` names, freshly built."""
    from unetzoo.models import create_model

    return create_model(spec["name"], preset=spec.get("preset"), in_channels=spec["in_channels"],
                        classes=spec["classes"], **spec.get("kwargs", {}))  # fmt: skip


def _step_seconds(model: torch.nn.Module, batch: torch.Tensor, spec: dict[str, Any], runs: int) -> float:
    """Median seconds of a training step on ``batch`` after one warm-up, in the spec's precision."""
    from unetzoo.bench.latency import time_interleaved, train_step

    step = train_step(model, batch, amp=spec.get("amp", False))
    return time_interleaved({"step": step}, runs=runs, warmup=1)["step"].median_ms / 1000


def measure_cost(spec: dict[str, Any], threads: int) -> ModelCost:
    """Time two training steps sizes and one inference of the network ``spec`` (see :func:`model_cost`)."""
    from unetzoo.bench.latency import num_threads

    model = _network(spec)
    multiple = int(getattr(model, "input_multiple", 1))
    sizes = [max(multiple, (s // multiple) * multiple) for s in SIZES]
    with num_threads(threads):
        seconds = []
        for side in sizes:
            batch = torch.randn(BATCH, spec["in_channels"], side, side, generator=torch.Generator().manual_seed(0))
            seconds.append(_step_seconds(model, batch, spec, runs=2))
        probe = torch.randn(BATCH, spec["in_channels"], sizes[0], sizes[0])
        saved = _saved_bytes(model.train(), probe)
        model.eval()
        image = torch.randn(1, spec["in_channels"], sizes[1], sizes[1])
        with torch.inference_mode():
            model(image)
            start = time.perf_counter()
            model(image)
            infer = time.perf_counter() - start
    px = [BATCH * s * s for s in sizes]
    slope = max((seconds[1] - seconds[0]) / (px[1] - px[0]), seconds[1] / px[1] * 0.5)
    return ModelCost(
        overhead_s=round(max(0.0, seconds[1] - slope * px[1]), 6),
        seconds_per_px=float(f"{slope:.4g}"),
        bytes_per_px=round(saved / px[0], 1),
        infer_px_per_s=float(f"{sizes[1] ** 2 / infer:.4g}"),
        params=sum(p.numel() for p in model.parameters()),
        input_multiple=multiple,
        threads=threads,
    )


def model_cost(spec: dict[str, Any], threads: int | None = None, *, use_cache: bool = True,
               refresh: bool = False) -> ModelCost:  # fmt: skip
    """The cost model of network ``spec`` (``name``, ``preset``, ``kwargs``, ``in_channels``, ``classes``) at
    ``threads`` torch threads (default: torch's current count), from the cache when measured before;
    ``refresh`` measures it again and replaces the cached one (timed while the machine was busy, say)."""
    threads = threads or torch.get_num_threads()
    path = cache_dir("costs") / f"{_key(spec, threads)}.json"
    if use_cache and not refresh and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION:
                return ModelCost(**data)
        except (OSError, ValueError, TypeError):
            pass
    cost = measure_cost(spec, threads)
    if use_cache:
        atomic_write_text(path, json.dumps(cost.to_dict(), indent=1))
    return cost


def step_seconds_at(spec: dict[str, Any], threads: int, batch: int, patch: tuple[int, int] | list[int],
                    *, use_cache: bool = True, refresh: bool = False) -> float:  # fmt: skip
    """Seconds of one training step of network ``spec`` at ``batch`` x ``patch`` (after one warm-up step),
    measured once per (network, threads, batch, patch, CPU, torch version) and cached; ``refresh`` as for
    :func:`model_cost`."""
    from unetzoo.bench.latency import num_threads

    key = _key({**spec, "batch": batch, "patch": list(patch)}, threads)
    path = cache_dir("steps") / f"{key}.json"
    if use_cache and not refresh and path.is_file():
        try:
            return float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    inputs = torch.randn(batch, spec["in_channels"], *patch, generator=torch.Generator().manual_seed(0))
    with num_threads(threads):
        seconds = _step_seconds(_network(spec), inputs, spec, runs=1)
    if use_cache:
        atomic_write_text(path, json.dumps({"seconds": seconds, "batch": batch, "patch": list(patch)}))
    return seconds
