"""Prediction under load: ``unetzoo predict`` over a folder of 1,000 generated 512x512 images.

Generates the images (RGB, nuclei-like blobs on noise) into a temporary folder, trains a small ``ulite``
checkpoint on ``builtin:nuclei`` for a few steps, then runs ``python -m unetzoo predict`` as a child process and
samples its resident memory (``/proc/PID/status``: VmRSS, and VmHWM, the kernel's peak) and the number of masks
written every 0.2 s. Reports throughput (overall, and steady-state between the first and the last mask) and the
RSS when 10%, 50% and 100% of the masks are written: memory is flat if the 100% figure is not above the 10% one
by more than allocator noise. Linux only (reads /proc).

Run: ``.venv/bin/python benchmarks/predict_load.py [--images 1000] [--size 512] [--json FILE]`` (about 5 min).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unetzoo.data.io import write_image
from unetzoo.engine.train import train


def generate(folder: Path, count: int, size: int) -> None:
    """``count`` RGB ``size`` x ``size`` PNGs: a few bright discs on a noisy dark background."""
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        rng = np.random.default_rng(i)
        image = rng.normal(30, 8, (size, size)).clip(0, 255)
        for _ in range(rng.integers(5, 25)):
            cy, cx = rng.integers(0, size, 2).tolist()
            r = int(rng.integers(6, 30))
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] += rng.uniform(80, 180)
        gray = image.clip(0, 255).astype(np.uint8)
        write_image(folder / f"img{i:05d}.png", np.stack([gray, gray // 2 + 40, gray], axis=-1))


def small_checkpoint(folder: Path) -> Path:
    """A few training steps of ``ulite`` on the bundled nuclei (RGB): weights with real statistics."""
    result = train(
        model="ulite",
        data="builtin:nuclei",
        epochs=1,
        iters_per_epoch=10,
        batch_size=4,
        patch_size=(128, 128),
        out=str(folder),
        progress=False,
    )
    return result.best_checkpoint


def _memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in kB; (0, 0) once it is gone."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0, 0
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def run_predict(checkpoint: Path, images: Path, out: Path, count: int) -> dict:
    """Run the CLI, sample (time, masks written, RSS); summarize throughput and memory at 10/50/100%."""
    cmd = [sys.executable, "-m", "unetzoo", "predict", "--checkpoint", str(checkpoint), str(images), "--out", str(out)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, int, int]] = []
    peak = 0
    while proc.poll() is None:
        rss, hwm = _memory_kb(proc.pid)
        peak = max(peak, hwm)
        done = sum(1 for e in os.scandir(out) if e.name.endswith(".png")) if out.exists() else 0
        if rss:
            samples.append((time.monotonic() - start, done, rss))
        time.sleep(0.2)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"predict failed ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
    written = sum(1 for e in os.scandir(out) if e.name.endswith(".png"))

    def rss_at(fraction: float) -> float:
        reached = [s for s in samples if s[1] >= fraction * count] or samples[-1:]
        return round(reached[0][2] / 1024, 1)

    first = next(s for s in samples if s[1] > 0)
    last = samples[-1]
    return {
        "images": count,
        "written": written,
        "wall_seconds": round(wall, 1),
        "images_per_second": round(count / wall, 2),
        "steady_images_per_second": round((last[1] - first[1]) / max(last[0] - first[0], 1e-9), 2),
        "rss_mb_at": {"10%": rss_at(0.10), "50%": rss_at(0.50), "100%": round(last[2] / 1024, 1)},
        "peak_rss_mb": round(peak / 1024, 1),
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unetzoo-predict-load-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        generate(root / "images", args.images, args.size)
        print(f"generated {args.images} {args.size}x{args.size} images in {time.monotonic() - t0:.0f}s")
        checkpoint = small_checkpoint(root / "run")
        result = run_predict(checkpoint, root / "images", root / "out", args.images)
    result.update(
        size=args.size,
        date=datetime.date.today().isoformat(),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    )
    print(json.dumps(result, indent=2))
    rss = result["rss_mb_at"]
    print(
        f"\n| {args.images} x {args.size}x{args.size} | {result['images_per_second']} img/s "
        f"({result['steady_images_per_second']} steady) | {rss['10%']} / {rss['50%']} / {rss['100%']} MB | "
        f"{result['peak_rss_mb']} MB |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
