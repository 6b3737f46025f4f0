"""A bounded load test on loopback: 200 uploads at concurrency 8, no failure, flat memory.

The reporting benchmark (server in a subprocess, larger images) is ``benchmarks/serve_load.py``; this test uses its
:func:`run_load` against an in-process server on a 64x64 image so that it stays short on two cores.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import partial
from pathlib import Path

import pytest
from servekit import gray_image, png_bytes, running_server

from unetzoo.serve.config import ServeConfig
from unetzoo.serve.model import ServedModel

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_load.py"


def load_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("serve_load", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="memory is read from /proc (Linux)")
def test_200_requests_at_concurrency_8_without_failure_or_leak(model: ServedModel):
    bench = load_benchmark()
    image = png_bytes(gray_image(64, 64))
    with running_server(model, ServeConfig(concurrency=8)) as server:
        bench.run_load(server.url, image, requests=100, concurrency=8, rounds=2)  # warm-up: threads, malloc arenas
        memory = partial(bench.rss_mb, os.getpid())
        result = bench.run_load(server.url, image, requests=200, concurrency=8, rounds=2, memory=memory)
    summary = result.summary()
    print(f"\nserve load: {summary}")
    assert result.failures == 0, (result.statuses, result.errors[:3])
    assert result.statuses == {200: 200}
    start, half, end = result.rss_mb  # idle: after warm-up, after 100 and after 200 requests
    assert end - start < 40, f"memory grew from {start:.0f} to {end:.0f} MiB over 200 requests"
    assert end - half < 20, f"memory still growing in the second 100 requests: {half:.0f} -> {end:.0f} MiB"
    assert summary["p95_ms"] > 0 and result.throughput > 0
