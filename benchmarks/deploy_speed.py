"""Eager vs ONNX fp32 vs ONNX INT8 latency, file sizes and parity for every exportable model (same run).

    .venv/bin/python benchmarks/deploy_speed.py [--models ulite,unet_sharp] [--threads 2] [--repeats 7]

Each model is built with random weights (latency does not depend on them), saved as a checkpoint, exported
to fp32 and INT8 ONNX, and timed at 1 x 3 x 256 x 256 with the same thread count for torch and onnxruntime.
"eager" is the model as built (U-Lite's eval mode runs its merged axial kernels); "defined" is eager inside
``unetzoo.layers.reparam.as_defined()`` (the paper's form, as eager ran before that re-parameterisation).
The three engines are timed in interleaved rounds so that load on a shared machine hits all of them alike;
medians are reported, and ratios are within the run. Bars of issue 6 (``ulite``): fp32 <= 0.6x eager,
INT8 <= 0.4x eager, INT8 file <= 1.2 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import unetzoo
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.engine.checkpoint import save_checkpoint
from unetzoo.layers.reparam import as_defined

SHARED_ISBI = Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2012" / "images"
BARS = {"fp32_ratio": 0.6, "int8_ratio": 0.4, "int8_mb": 1.2}


def checkpoint(name: str, folder: Path) -> Path:
    """A random-weight checkpoint of ``name`` (3 -> 1 channels) with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = unetzoo.create_model(name, in_channels=3, classes=1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    payload = {
        "model": {"name": name, "preset": None, "kwargs": {}, "in_channels": 3, "classes": 1},
        "state_dict": model.state_dict(),
        "preprocess": {"normalize": "zscore", "channels": 3, "mean": None, "std": None},
        "threshold": 0.5,
        "class_names": ["background", "foreground"],
        "metrics": {},
        "config": {},
    }
    return save_checkpoint(folder / f"{name}.pt", payload)


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each callable, timed round-robin after one warm-up call each."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def measure(name: str, folder: Path, calibration: str, threads: int, repeats: int, size: int) -> dict[str, float]:
    ckpt = checkpoint(name, folder)
    fp32_path = export_model(ckpt, "onnx", folder / f"{name}.onnx")
    int8_path = export_model(ckpt, "onnx", folder / f"{name}-int8.onnx", int8=True, calibration=calibration)
    model = unetzoo.create_model(name, in_channels=3, classes=1)
    model.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    model.eval()
    fp32 = OnnxSegmenter(fp32_path, threads=threads)
    int8 = OnnxSegmenter(int8_path, threads=threads)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    xn = x.numpy()
    with torch.inference_mode():
        reference = model(x).numpy()

        def eager() -> object:
            return model(x)

        def eager_as_defined() -> object:
            with as_defined():
                return model(x)

        runs = {
            "eager": eager,
            "defined": eager_as_defined,
            "fp32": lambda: fp32.logits(xn),
            "int8": lambda: int8.logits(xn),
        }
        medians = interleaved_medians(runs, repeats)
    return {
        "params": unetzoo.count_params(model),
        "eager_ms": medians["eager"] * 1e3,
        "defined_ms": medians["defined"] * 1e3,
        "fp32_ms": medians["fp32"] * 1e3,
        "int8_ms": medians["int8"] * 1e3,
        "fp32_mb": fp32_path.stat().st_size / 1e6,
        "int8_mb": int8_path.stat().st_size / 1e6,
        "max_abs_diff": float(np.abs(fp32.logits(xn) - reference).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: every registered model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=256)
    default_cal = str(SHARED_ISBI) if SHARED_ISBI.is_dir() else "synthetic:nuclei?n=16&size=256"
    parser.add_argument("--calibration", default=default_cal, help="INT8 calibration images (folder or dataset)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    names = args.models.split(",") if args.models else unetzoo.list_models()
    print(f"1x3x{args.size}x{args.size}, {args.threads} threads, median of {args.repeats} interleaved rounds")
    print(f"torch {torch.__version__}, cpu count {os.cpu_count()}, calibration {args.calibration}\n")
    header = (
        f"{'model':<15}{'params':>11}{'eager ms':>10}{'defined':>9}{'fp32 ms':>9}{'int8 ms':>9}"
        f"{'fp32/eag':>9}{'int8/eag':>9}{'int8/fp32':>10}{'fp32 MB':>9}{'int8 MB':>9}{'max|diff|':>11}"
    )
    print(header)
    results = {}
    with tempfile.TemporaryDirectory(prefix="unetzoo-bench-") as tmp:
        for name in names:
            r = measure(name, Path(tmp), args.calibration, args.threads, args.repeats, args.size)
            results[name] = r
            print(
                f"{name:<15}{r['params']:>11,}{r['eager_ms']:>10.1f}{r['defined_ms']:>9.1f}{r['fp32_ms']:>9.1f}{r['int8_ms']:>9.1f}"
                f"{r['fp32_ms'] / r['eager_ms']:>9.2f}{r['int8_ms'] / r['eager_ms']:>9.2f}"
                f"{r['int8_ms'] / r['fp32_ms']:>10.2f}{r['fp32_mb']:>9.2f}{r['int8_mb']:>9.3f}"
                f"{r['max_abs_diff']:>11.1e}",
                flush=True,
            )
    if "ulite" in results:
        r = results["ulite"]
        checks = [
            ("fp32 <= 0.6x eager", r["fp32_ms"] / r["eager_ms"], BARS["fp32_ratio"]),
            ("INT8 <= 0.4x eager", r["int8_ms"] / r["eager_ms"], BARS["int8_ratio"]),
            ("INT8 file <= 1.2 MB", r["int8_mb"], BARS["int8_mb"]),
        ]
        print(
            f"\n(ulite eager in its defined form, axial pairs unmerged: {r['defined_ms']:.1f} ms; fp32 / that: "
            f"{r['fp32_ms'] / r['defined_ms']:.2f}x, INT8 / that: {r['int8_ms'] / r['defined_ms']:.2f}x)"
        )
        print("ulite bars (issue 6):")
        for label, value, bar in checks:
            print(f"  {label:<22} {value:8.3f}  {'PASS' if value <= bar else 'FAIL'}")


if __name__ == "__main__":
    main()
