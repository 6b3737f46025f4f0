"""Speed bars of issue 5: ulite vs MONAI UNet (same run), then every model's eager speed and % of matmul peak.

    .venv/bin/python benchmarks/speed.py [--threads 2] [--size 256 256] [--runs 40] [--train-steps 8]
                                         [--zoo-runs 20] [--no-zoo] [--json out.json]

Part 1, the bars (ulite and ``monai_unet`` built side by side, timed in interleaved rounds):
  * eager latency ratio ulite / MONAI UNet at batch 1 (bar <= 1.0x), and the same with every available
    engine (``eager-fused`` now; ``onnx``/``onnx-int8`` once ``unetzoo.deploy.engines`` registers them;
    bar for the fastest engine vs MONAI's eager <= 0.5x);
  * training throughput ratio ulite / MONAI UNet at batch 8, Adam, with backward (bar >= 1.0x).
  Ratios are the median of per-round ratios (the two calls of a round are adjacent in time, so load on a
  shared machine cancels), printed beside the ratio of medians and the ratio of minima.
  The bars are measured twice: wall clock at ``--threads`` (the bars' definition), then, unless
  ``--no-proxy``, at 1 thread timed by the thread's CPU time (``time.thread_time``), a proxy that other
  processes on a shared machine cannot inflate (different kernels may be chosen at 1 thread: a proxy only).
Part 2, the zoo: :func:`unetzoo.bench.suite.bench` over every registered model and the MONAI peers on the eager
engine: latency median/p90, throughput at batch 8, peak RSS, achieved GFLOP/s and its fraction of the fp32
matmul peak measured in the same run (training throughput with ``--zoo-train-steps``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from unetzoo.bench.engines import get_engine, list_engines
from unetzoo.bench.latency import (
    LatencyStats,
    gflops,
    matmul_call,
    matmul_peak_gflops,
    num_threads,
    time_interleaved,
    train_step,
)
from unetzoo.bench.profile import profile
from unetzoo.bench.suite import bench, format_table
from unetzoo.errors import UnetzooError
from unetzoo.models import list_models
from unetzoo.models.peers import build_model, list_peers

OURS, PEER = "ulite", "monai_unet"
MATMUL = "matmul"
LATENCY_BAR, FASTEST_BAR, TRAIN_BAR = 1.0, 0.5, 1.0


def paired(a: LatencyStats, b: LatencyStats) -> dict[str, float]:
    """Time ratio a / b three ways: median of per-round ratios, ratio of medians, ratio of minima."""
    rounds = [x / y for x, y in zip(a.seconds, b.seconds, strict=True)]
    return {
        "ratio": statistics.median(rounds),
        "ratio_of_medians": a.median_ms / b.median_ms,
        "ratio_of_minima": a.min_ms / b.min_ms,
    }


def available_engines() -> list[str]:
    """Every engine that builds here, in ``list_engines`` order (unavailable ones are reported and skipped)."""
    found = []
    for name in list_engines():
        try:
            get_engine(name)
        except UnetzooError as exc:
            print(f"  (skipping engine {name}: {exc})")
        else:
            found.append(name)
    return found


@dataclass(frozen=True)
class Bars:
    """Same-run measurements of ulite and MONAI UNet: latency per "model/engine", training steps, FLOPs, and
    the fp32 matmul peak (best of 5 calls before and one ``torch.mm`` per latency round)."""

    latency: dict[str, LatencyStats]
    train: dict[str, LatencyStats]
    flops: dict[str, int]
    peak_gflops: float


def bars(size: tuple[int, int], runs: int, train_steps: int, clock: Callable[[], float]) -> Bars:
    """Part 1: latency per engine and training throughput, ulite vs MONAI UNet, interleaved."""
    torch.manual_seed(0)
    models = {n: build_model(n, in_channels=3, classes=1) for n in (OURS, PEER)}
    x, xb = torch.randn(1, 3, *size), torch.randn(8, 3, *size)
    mm, mm_flops = matmul_call()
    peak = matmul_peak_gflops(clock=clock)
    calls = {MATMUL: mm}
    for engine in available_engines():
        for n, m in models.items():
            run = get_engine(engine).build(m, x, torch.get_num_threads())
            calls[f"{n}/{engine}"] = lambda run=run: run(x)
    latency = time_interleaved(calls, runs=runs, warmup=3, clock=clock)
    peak = max(peak, gflops(mm_flops, latency.pop(MATMUL), best=True))
    steps = {n: train_step(m, xb) for n, m in models.items()}
    train = time_interleaved(steps, runs=train_steps, warmup=1, clock=clock)
    flops = {n: profile(m, (1, 3, *size), memory=False).flops for n, m in models.items()}
    return Bars(latency, train, flops, peak)


def print_bars(result: Bars) -> dict[str, object]:
    """Print the bars' table and ratios; return the peak and the ratios (JSON-ready)."""
    latency, train, flops, peak = result.latency, result.train, result.flops, result.peak_gflops
    print(f"fp32 matmul peak (2048^2 torch.mm, best call of the run): {peak:.0f} GFLOP/s")
    peer_eager = latency[f"{PEER}/eager"]
    print(f"\n{'model/engine':<24} {'median ms':>10} {'p90 ms':>8} {'min ms':>8} {'GFLOP/s':>8} {'%peak':>6}")
    for key, stats in latency.items():
        achieved = gflops(flops[key.split("/")[0]], stats)
        print(
            f"{key:<24} {stats.median_ms:>10.1f} {stats.p90_ms:>8.1f} {stats.min_ms:>8.1f} {achieved:>8.1f} "
            f"{achieved / peak:>6.1%}"
        )
    summary: dict[str, object] = {"matmul_peak_gflops": peak}
    print(f"\nlatency ratio {OURS} / {PEER} eager (per-round median | of medians | of minima):")
    for key in latency:
        if key.startswith(f"{OURS}/"):
            r = paired(latency[key], peer_eager)
            engine = key.split("/")[1]
            bar = LATENCY_BAR if engine == "eager" else FASTEST_BAR
            verdict = "meets" if r["ratio"] <= bar else "misses"
            summary[f"latency_ratio_{engine}"] = r
            print(
                f"  {engine:<12} {r['ratio']:.2f}x | {r['ratio_of_medians']:.2f}x | {r['ratio_of_minima']:.2f}x"
                f"   ({verdict} <= {bar}x)"
            )
    r = paired(train[PEER], train[OURS])  # time ratio peer / ours = throughput ratio ours / peer
    summary["train_throughput_ratio"] = r
    verdict = "meets" if r["ratio"] >= TRAIN_BAR else "misses"
    print(
        f"training throughput, batch 8: {OURS} {train[OURS].per_second(8):.2f} img/s, "
        f"{PEER} {train[PEER].per_second(8):.2f} img/s; ratio {r['ratio']:.2f}x | {r['ratio_of_medians']:.2f}x | "
        f"{r['ratio_of_minima']:.2f}x   ({verdict} >= {TRAIN_BAR}x)"
    )
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", nargs=2, type=int, default=(256, 256), metavar=("H", "W"))
    p.add_argument("--runs", type=int, default=40, help="interleaved latency rounds of the bars")
    p.add_argument("--train-steps", type=int, default=8, help="interleaved training rounds of the bars")
    p.add_argument("--zoo-runs", type=int, default=20, help="latency runs per model of the zoo table")
    p.add_argument("--zoo-train-steps", type=int, default=0, help="training steps per model in the zoo table")
    p.add_argument("--no-zoo", dest="zoo", action="store_false", help="only the ulite vs MONAI UNet bars")
    p.add_argument("--no-proxy", dest="proxy", action="store_false", help="skip the 1-thread CPU-time bars")
    p.add_argument("--json", help="also write every number to this file")
    args = p.parse_args(argv)
    size = tuple(args.size)
    print(
        f"{datetime.date.today()}, {platform.machine()}, {torch.__version__}, {args.threads} threads, "
        f"input 3x{size[0]}x{size[1]}"
    )
    out: dict[str, object] = {"threads": args.threads, "size": list(size)}
    clocks = {"wall": (args.threads, time.perf_counter)}
    if args.proxy:
        clocks["cpu_1thread"] = (1, time.thread_time)
    for label, (threads, clock) in clocks.items():
        with num_threads(threads):
            print(f"\n== {label}: {threads} thread(s)")
            out[label] = print_bars(bars(size, args.runs, args.train_steps, clock))
    if args.zoo:
        models = [*list_models(), *list_peers("monai")]
        rows = bench(models, size=size, threads=args.threads, runs=args.zoo_runs, train_steps=args.zoo_train_steps)
        print("\n" + format_table(rows))
        out["zoo"] = [r.as_dict() for r in rows]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
