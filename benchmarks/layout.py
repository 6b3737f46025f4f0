"""Which models infer faster in ``channels_last`` on this CPU: the evidence behind ``channels_last``.

    .venv/bin/python benchmarks/layout.py [--models ulite,sd_unet,...] [--threads 2] [--size 256 256]
                                          [--runs 10] [--json out.json]

For every model (default: every registered model and the MONAI peers), eval mode, batch 1, the same
weights and input: the model's forward with ``channels_last`` off (NCHW, PyTorch's default) and
on, timed in interleaved rounds. Prints the median latency of each, the median per-round ratio
channels_last / NCHW, and the model's current setting. Outputs are checked equal (max abs diff) first.
A model should opt in where the ratio is clearly below 1 on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from unetzoo.bench.latency import num_threads, time_interleaved
from unetzoo.models import list_models
from unetzoo.models.peers import build_model, list_peers


def measure(name: str, size: tuple[int, int], runs: int) -> dict[str, object]:
    model = build_model(name, in_channels=3, classes=1).eval()
    default = type(model).channels_last
    x = torch.randn(1, 3, *size)

    def forward(channels_last: bool) -> torch.Tensor:
        model.channels_last = channels_last
        with torch.inference_mode():
            return model(x)

    diff = (forward(True) - forward(False)).abs().max().item()
    stats = time_interleaved({"nchw": lambda: forward(False), "cl": lambda: forward(True)}, runs=runs, warmup=2)
    rounds = [c / n for c, n in zip(stats["cl"].seconds, stats["nchw"].seconds, strict=True)]
    return {
        "model": name,
        "nchw_ms": stats["nchw"].median_ms,
        "channels_last_ms": stats["cl"].median_ms,
        "ratio": statistics.median(rounds),
        "max_abs_diff": diff,
        "opted_in": default,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=None, help="comma-separated (default: every model and MONAI peer)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    names = args.models.split(",") if args.models else [*list_models(), *list_peers("monai")]
    rows = []
    print(f"{'model':22s} {'NCHW ms':>9s} {'CL ms':>9s} {'CL/NCHW':>8s} {'max diff':>9s}  opted in")
    with num_threads(args.threads):
        for name in names:
            row = measure(name, tuple(args.size), args.runs)
            rows.append(row)
            print(
                f"{name:22s} {row['nchw_ms']:9.1f} {row['channels_last_ms']:9.1f} {row['ratio']:8.2f} "
                f"{row['max_abs_diff']:9.1e}  {row['opted_in']}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
