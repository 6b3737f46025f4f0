"""Issue 17: CPU training throughput per model and per lever, in one interleaved run.

    .venv/bin/python benchmarks/train_levers.py [--threads 2] [--batch 8] [--size 256] [--runs 6]
        [--models ulite,sd_unet,pyconv_unet,unet_sharp:1,unet_sharp:2,monai_unet] [--compile] [--json out.json]

Every (model, lever) pair is one training step (:func:`unetzoo.bench.latency.train_step`: forward, BCE, backward,
Adam; batch ``--batch`` of 3 x size x size) and all of them are timed round-robin
(:func:`unetzoo.bench.latency.time_interleaved`), so load on the machine hits every cell alike. Levers:

* layout: ``nchw`` or ``cl`` (channels_last weights and batch);
* precision: ``fp32`` or ``bf16`` (the forward under bf16 autocast, ``unetzoo train --amp``);
* ``compile`` (with ``--compile``): ``torch.compile`` of the model in the best eager layout, both precisions.

Printed: img/s per cell, each model's best cell per precision, and the throughput ratio of every model's best
cell to MONAI UNet's best cell at the same precision (median of per-round ratios).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable

import torch

from unetzoo.bench.latency import Call, LatencyStats, num_threads, time_interleaved, train_step
from unetzoo.models.peers import build_model

PEER = "monai_unet"
LAYOUTS = {"nchw": torch.contiguous_format, "cl": torch.channels_last}


def build(spec: str) -> torch.nn.Module:
    """``name`` or ``name:level`` (UNet#'s pruning level)."""
    name, _, level = spec.partition(":")
    torch.manual_seed(0)
    if level:
        from unetzoo.models import create_model

        return create_model(name, in_channels=3, classes=1, level=int(level))
    return build_model(name, in_channels=3, classes=1)


def cells(spec: str, batch: torch.Tensor, compile_too: bool) -> dict[str, Call]:
    """Every lever combination of one model, as training-step callables named ``spec/layout-precision[-x]``."""
    model = build(spec)
    out: dict[str, Call] = {}
    for layout, fmt in LAYOUTS.items():
        for amp in (False, True):
            precision = "bf16" if amp else "fp32"
            out[f"{spec}/{layout}-{precision}"] = train_step(model, batch, memory_format=fmt, amp=amp)
    if compile_too:
        for amp in (False, True):
            step = train_step(model, batch, memory_format=torch.channels_last, amp=amp)
            step.model.compile()  # type: ignore[attr-defined]
            out[f"{spec}/cl-{'bf16' if amp else 'fp32'}-compile"] = step
    return out


def paired_ratio(ours: LatencyStats, peer: LatencyStats) -> float:
    """Throughput ratio ours / peer: the median over rounds of peer time / our time."""
    return statistics.median(p / o for o, p in zip(ours.seconds, peer.seconds, strict=True))


def best(stats: dict[str, LatencyStats], spec: str, precision: str) -> str:
    keys = [k for k in stats if k.startswith(f"{spec}/") and f"-{precision}" in k]
    return min(keys, key=lambda k: stats[k].median_ms)


def report(stats: dict[str, LatencyStats], specs: list[str], batch: int) -> dict[str, object]:
    print(f"\n{'cell':<36} {'img/s':>7} {'median ms':>10} {'min ms':>8}")
    for key, s in stats.items():
        print(f"{key:<36} {s.per_second(batch):>7.2f} {s.median_ms:>10.0f} {s.min_ms:>8.0f}")
    summary: dict[str, object] = {"cells": {k: s.per_second(batch) for k, s in stats.items()}}
    for precision in ("fp32", "bf16"):
        peer = best(stats, PEER, precision) if PEER in specs else None
        print(f"\nbest cell per model, {precision}" + (f" (ratio to {peer})" if peer else ""))
        for spec in specs:
            key = best(stats, spec, precision)
            ratio = paired_ratio(stats[key], stats[peer]) if peer else float("nan")
            summary[f"{spec}/{precision}"] = {"best": key, "img_s": stats[key].per_second(batch), "ratio": ratio}
            print(f"  {spec:<16} {key:<36} {stats[key].per_second(batch):>7.2f} img/s  {ratio:.2f}x")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--models", default="ulite,sd_unet,pyconv_unet,unet_sharp:1,unet_sharp:2," + PEER)
    parser.add_argument("--compile", action="store_true", help="add torch.compile cells (slow to build)")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    specs = args.models.split(",")
    batch = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    with num_threads(args.threads):
        calls: dict[str, Callable[[], object]] = {}
        for spec in specs:
            calls.update(cells(spec, batch, args.compile))
        print(f"{len(calls)} cells, {args.runs} interleaved rounds, {args.threads} threads, batch {args.batch}")
        stats = time_interleaved(calls, runs=args.runs, warmup=2)
    summary = report(stats, specs, args.batch)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=1)


if __name__ == "__main__":
    main()
