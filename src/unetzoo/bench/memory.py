"""Peak resident memory (RSS) of inference, measured in a fresh Python process per model and engine.

A process's peak RSS only ever grows, so models measured in one process would hide each other's peaks.
:func:`peak_rss` therefore runs ``python -m unetzoo.bench.memory SPEC`` for each measurement: the child
imports torch and unetzoo, builds the model and the engine, runs ``runs`` inferences on a random batch and
prints its peak RSS (``VmHWM``) before and after inference. Reported: the whole process peak (interpreter, torch,
weights, activations) and the growth during inference (activations and engine workspace; weights and
the engine's build step are in the baseline).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from unetzoo.errors import UnetzooError


@dataclass(frozen=True)
class RssPeak:
    """Resident memory of one inference process, in MiB."""

    peak_mb: float
    inference_mb: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _max_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``). Not ``ru_maxrss``: Linux carries that over ``exec`` from the
    forked parent, so a child of a big process would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise UnetzooError("peak RSS needs Linux /proc/self/status (VmHWM)")


def _child(spec: dict[str, object]) -> RssPeak:
    from unetzoo.bench.engines import get_engine
    from unetzoo.models.peers import build_model

    torch.set_num_threads(int(spec["threads"]))
    shape = [int(s) for s in spec["shape"]]  # type: ignore[union-attr]
    model = build_model(str(spec["model"]), in_channels=shape[1], classes=int(spec["classes"]))
    batch = torch.randn(shape)
    run = get_engine(str(spec["engine"])).build(model, batch, int(spec["threads"]))
    before = _max_rss_mb()
    for _ in range(int(spec["runs"])):
        run(batch)
    peak = _max_rss_mb()
    return RssPeak(peak, peak - before)


def peak_rss(
    model: str, engine: str, shape: tuple[int, ...], *, classes: int = 1, threads: int, runs: int = 3
) -> RssPeak:
    """Peak RSS of ``runs`` inferences of ``model`` (registry or peer name) on ``engine`` in a fresh process.

    Args:
        shape: (N, C, H, W) of the batch; the model is built with ``C`` input channels and ``classes``.
    """
    spec = dict(model=model, engine=engine, shape=list(shape), classes=classes, threads=threads, runs=runs)
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(
        [sys.executable, "-m", "unetzoo.bench.memory", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UnetzooError(f"memory measurement of {model!r} on {engine!r} failed: {last}")
    return RssPeak(**json.loads(proc.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1])).as_dict()))
