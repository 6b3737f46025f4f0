"""Load test of ``unetzoo serve`` on loopback: throughput, latency percentiles, failures and server memory.

Starts ``unetzoo serve`` in a subprocess (``--concurrency`` slots), sends ``--warmup`` requests, then
``--requests`` ``POST /api/segment`` uploads of one image from ``--concurrency`` client threads, each on its own
keep-alive connection. Reports requests/s, p50/p95/max latency, non-200 answers and the server's resident memory
(VmRSS) when idle after warm-up and after each of ``--rounds`` rounds: flat memory means no per-request leak.

Run: ``.venv/bin/python benchmarks/serve_load.py [--model CKPT|FILE.onnx] [--image PNG] [--requests 200]
[--concurrency 8]``. Without ``--model`` a tiny ulite is trained on synthetic gray membranes first; without
``--image`` the ISBI slice ``$UNETZOO_SHARED_DATA/isbi2012/images/00.png`` is used when present, else a synthetic
512x512 gray image. The CI test ``tests/serve/test_serve_load.py`` runs :func:`run_load` against an in-process
server on a small image.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    """Latencies (s) of answered requests, status counts, exceptions, wall time and memory samples (MiB)."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rss_mb: list[float] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.errors) + sum(n for status, n in self.statuses.items() if status != 200)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")

    def summary(self) -> dict[str, float | int | list[float]]:
        return {
            "requests": len(self.latencies) + len(self.errors),
            "failures": self.failures,
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(self.throughput, 2),
            "p50_ms": round(1000 * self.percentile(50), 1),
            "p95_ms": round(1000 * self.percentile(95), 1),
            "max_ms": round(1000 * max(self.latencies, default=float("nan")), 1),
            "rss_mb": [round(m, 1) for m in self.rss_mb],
        }


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def multipart_image(data: bytes, filename: str = "image.png") -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with the field ``image`` and its Content-Type."""
    boundary = uuid.uuid4().hex
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n\r\n'
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def run_load(
    url: str,
    image: bytes,
    requests: int = 200,
    concurrency: int = 8,
    *,
    rounds: int = 1,
    memory: Callable[[], float] | None = None,
) -> LoadResult:
    """Send ``requests`` segment uploads of ``image`` from ``concurrency`` threads, in ``rounds`` equal rounds.

    ``memory`` is sampled before the first round and after each one, when the server is idle, so the samples show
    retained memory (a leak) rather than the working set of requests in flight.
    """
    body, ctype = multipart_image(image)
    parts = urlsplit(url)
    result = LoadResult()
    lock = threading.Lock()

    def worker(todo: list[int]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            with lock:
                if not todo[0]:
                    break
                todo[0] -= 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/segment", body=body, headers={"Content-Type": ctype})
                response = conn.getresponse()
                response.read()
                with lock:
                    result.latencies.append(time.perf_counter() - t0)
                    result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        conn.close()

    if memory:
        result.rss_mb.append(memory())
    for r in range(rounds):
        todo = [requests // rounds + (1 if r < requests % rounds else 0)]
        threads = [threading.Thread(target=worker, args=(todo,)) for _ in range(concurrency)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.seconds += time.perf_counter() - start
        if memory:
            result.rss_mb.append(memory())
    return result


def _default_image() -> bytes:
    shared = os.environ.get("UNETZOO_SHARED_DATA")
    slice_ = Path(shared, "isbi2012", "images", "00.png") if shared else None
    if slice_ and slice_.is_file():
        return slice_.read_bytes()
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:512]
    img = np.clip(128 + 60 * np.sin(xx / 5) * np.cos(yy / 7) + rng.normal(0, 10, (512, 512)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _tiny_model(folder: Path) -> Path:
    from unetzoo.engine.train import train

    run = train(
        model="ulite",
        data="synthetic:membranes?n=8&size=64",
        epochs=1,
        batch_size=2,
        patch_size=(64, 64),
        progress=False,
        out=str(folder / "run"),
    )
    return run.best_checkpoint


def _start_server(model: Path, concurrency: int, workers: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "unetzoo", "serve", "--model", str(model), "--port", "0", "--quiet"]
    cmd += ["--concurrency", str(concurrency), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"on (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line.strip()}")
    threading.Thread(target=lambda: sys.stderr.writelines(proc.stderr), daemon=True).start()  # never block it
    return proc, match[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint or FILE.onnx (default: train a tiny ulite)")
    parser.add_argument("--image", help="image to upload (default: ISBI slice 00 or synthetic 512x512)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads and server slots")
    parser.add_argument("--workers", type=int, default=2, help="server model runs in parallel")
    parser.add_argument("--rounds", type=int, default=4, help="memory is sampled after each round")
    parser.add_argument("--warmup", type=int, default=16)
    args = parser.parse_args()
    image = Path(args.image).read_bytes() if args.image else _default_image()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = Path(args.model) if args.model else _tiny_model(Path(tmp))
        proc, url = _start_server(model, args.concurrency, args.workers)
        try:
            run_load(url, image, args.warmup, args.concurrency)
            memory = partial(rss_mb, proc.pid)
            result = run_load(url, image, args.requests, args.concurrency, rounds=args.rounds, memory=memory)
        finally:
            proc.terminate()
            proc.wait(10)
    s = result.summary()
    print(
        f"# serve load: {s['requests']} requests, concurrency {args.concurrency}, server workers {args.workers}, "
        f"image {len(image):,} bytes, model {model.name}, {os.cpu_count()} CPU(s)"
    )
    print(f"throughput   {s['throughput_rps']} req/s over {s['seconds']} s")
    print(f"latency      p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, max {s['max_ms']} ms")
    print(f"failures     {s['failures']} (statuses {result.statuses})")
    print(f"server RSS   {' -> '.join(f'{m} MiB' for m in s['rss_mb'])} (idle: after warm-up, after each round)")
    print(json.dumps(s))


if __name__ == "__main__":
    main()
