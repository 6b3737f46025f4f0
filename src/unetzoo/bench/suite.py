"""``unetzoo bench``: measure a set of models (unetzoo or peers) on a set of engines in one run.

All models are built first and timed *together* (round-robin, :func:`~unetzoo.bench.latency.time_interleaved`),
with a 2048 x 2048 ``torch.mm`` in every round, so every ratio in the table (model vs model, model vs the fp32
matmul peak) is a same-run ratio. The peak is the best matmul of the run (5 calls before, one per round):
a busy machine only ever slows a call down, so the best call is the closest to the machine's peak.
Training throughput uses eager PyTorch whatever the engine (engines are for inference); peak RSS comes from
a fresh process per model and engine (:mod:`unetzoo.bench.memory`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from unetzoo.bench.engines import get_engine
from unetzoo.bench.latency import (
    LatencyStats,
    gflops,
    matmul_call,
    matmul_peak_gflops,
    num_threads,
    time_interleaved,
    train_step,
)
from unetzoo.bench.memory import RssPeak, peak_rss
from unetzoo.bench.profile import profile
from unetzoo.models.peers import build_model

_MATMUL = "__matmul__"  # a torch.mm sampled in every latency round: the peak under the same load


@dataclass(frozen=True)
class BenchRow:
    """One model on one engine. Throughputs are images/s; ``peak_fraction`` = achieved / matmul peak."""

    model: str
    engine: str
    input: tuple[int, int, int]
    batch: int
    threads: int
    params: int
    gmacs: float
    latency: LatencyStats
    throughput_batch: int
    throughput: float
    train_throughput: float | None
    rss: RssPeak | None
    gflops: float
    matmul_peak_gflops: float

    @property
    def peak_fraction(self) -> float:
        return self.gflops / self.matmul_peak_gflops

    def as_dict(self) -> dict[str, object]:
        """Flat JSON-ready dict: ``latency_median_ms``, ``peak_rss_mb``, ``peak_fraction``, ..."""
        d = asdict(self)
        d["input"] = list(self.input)
        d.pop("latency")
        d.pop("rss")
        d.update({f"latency_{k}": v for k, v in self.latency.as_dict().items() if k != "runs"})
        d["runs"] = self.latency.runs
        d["peak_rss_mb"] = self.rss.peak_mb if self.rss else None
        d["inference_rss_mb"] = self.rss.inference_mb if self.rss else None
        d["peak_fraction"] = self.peak_fraction
        return d


def _train(models: dict[str, nn.Module], batch: torch.Tensor, steps: int) -> dict[str, LatencyStats]:
    """Interleaved training steps of copies of ``models`` (the copies and their optimisers die on return)."""
    return time_interleaved({n: train_step(copy.deepcopy(m), batch) for n, m in models.items()}, runs=steps, warmup=1)


def bench(
    models: Sequence[str],
    *,
    size: tuple[int, int] = (256, 256),
    batch: int = 1,
    threads: int = 2,
    engines: Sequence[str] = ("eager",),
    runs: int = 20,
    warmup: int = 3,
    throughput_batch: int = 8,
    throughput_runs: int = 5,
    train_steps: int = 5,
    memory: bool = True,
    in_channels: int = 3,
    classes: int = 1,
) -> list[BenchRow]:
    """Benchmark ``models`` (registry or peer names) on ``engines``; one row per model and engine.

    Args:
        size: input H, W. batch: batch size of the latency runs.
        threads: intra-op threads for everything, the matmul peak included.
        runs, warmup: timed and untimed latency rounds (the issue's protocol: >= 20 after warm-up).
        throughput_batch, throughput_runs: batch and timed rounds of the inference throughput.
        train_steps: timed training steps at ``throughput_batch`` (Adam, backward); 0 skips training.
        memory: measure peak RSS (one fresh process per model and engine, a few seconds each).
    """
    names = list(dict.fromkeys(models))
    chosen = [get_engine(e) for e in dict.fromkeys(engines)]
    shape = (batch, in_channels, *size)
    wide = (throughput_batch, in_channels, *size)
    with num_threads(threads), torch.random.fork_rng():
        torch.manual_seed(0)
        built = {n: build_model(n, in_channels=in_channels, classes=classes) for n in names}
        profiles = {n: profile(m, shape, memory=False) for n, m in built.items()}
        peak = matmul_peak_gflops()
        x, xb = torch.randn(shape), torch.randn(wide)
        trained = _train(built, xb, train_steps) if train_steps else {}
        mm, mm_flops = matmul_call()
        measured = []
        for engine in chosen:
            runners = {n: engine.build(m, x, threads) for n, m in built.items()}
            calls = {**{n: (lambda r=r: r(x)) for n, r in runners.items()}, _MATMUL: mm}
            lat = time_interleaved(calls, runs=runs, warmup=warmup)
            peak = max(peak, gflops(mm_flops, lat.pop(_MATMUL), best=True))
            thr = time_interleaved({n: (lambda r=r: r(xb)) for n, r in runners.items()}, runs=throughput_runs, warmup=1)
            measured.append((engine.name, lat, thr))
    rows = []
    for engine_name, lat, thr in measured:
        for n in names:
            rows.append(
                BenchRow(
                    model=n,
                    engine=engine_name,
                    input=(in_channels, *size),
                    batch=batch,
                    threads=threads,
                    params=profiles[n].params,
                    gmacs=profiles[n].gmacs / batch,
                    latency=lat[n],
                    throughput_batch=throughput_batch,
                    throughput=thr[n].per_second(throughput_batch),
                    train_throughput=trained[n].per_second(throughput_batch) if n in trained else None,
                    rss=peak_rss(n, engine_name, shape, classes=classes, threads=threads) if memory else None,
                    gflops=gflops(profiles[n].flops, lat[n]),
                    matmul_peak_gflops=peak,
                )
            )
    return rows


_COLUMNS: tuple[tuple[str, str, int, str, Callable[[BenchRow], object]], ...] = (
    # title, align, width, format spec, value
    ("model", "<", 20, "", lambda r: r.model),
    ("engine", "<", 11, "", lambda r: r.engine),
    ("params", ">", 11, ",", lambda r: r.params),
    ("GMACs", ">", 6, ".2f", lambda r: r.gmacs),
    ("med ms", ">", 8, ".1f", lambda r: r.latency.median_ms),
    ("p90 ms", ">", 8, ".1f", lambda r: r.latency.p90_ms),
    ("img/s", ">", 7, ".1f", lambda r: r.throughput),
    ("train/s", ">", 7, ".2f", lambda r: r.train_throughput),
    ("RSS MB", ">", 7, ".0f", lambda r: r.rss.peak_mb if r.rss else None),
    ("GFLOP/s", ">", 8, ".1f", lambda r: r.gflops),
    ("%peak", ">", 6, ".1%", lambda r: r.peak_fraction),
)


def _cell(value: object, align: str, width: int, spec: str) -> str:
    return f"{'-':{align}{width}}" if value is None else f"{value:{align}{width}{spec}}"


def format_table(rows: Sequence[BenchRow]) -> str:
    """A fixed-width text table of ``rows`` with a footer naming the protocol (``-``: not measured)."""
    lines = [" ".join(f"{title:{align}{width}}" for title, align, width, _, _ in _COLUMNS)]
    for r in rows:
        lines.append(" ".join(_cell(get(r), align, width, spec) for _, align, width, spec, get in _COLUMNS))
    if rows:
        r = rows[0]
        lines.append(
            f"\ninput {r.input[0]}x{r.input[1]}x{r.input[2]}, batch {r.batch}, {r.threads} threads; latency over "
            f"{r.latency.runs} runs; img/s and train/s at batch {r.throughput_batch}; RSS: whole process peak; "
            f"matmul peak {r.matmul_peak_gflops:.0f} GFLOP/s; GFLOP/s = 2 x MACs / median latency"
        )
    return "\n".join(lines)
