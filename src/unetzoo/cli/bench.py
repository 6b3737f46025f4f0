"""``unetzoo bench``: params, GMACs, latency, throughput, training throughput, peak RSS and achieved GFLOP/s."""

from __future__ import annotations

import argparse
import json
import sys


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure speed and memory of models (and MONAI peers) in one run")
    a = p.add_argument
    a("--models", type=_names, default=None, help="comma-separated model names (default: every registered model)")
    a("--size", nargs=2, type=int, default=(256, 256), metavar=("H", "W"))
    a("--batch", type=int, default=1, help="batch size of the latency runs")
    a("--threads", type=int, default=2, help="intra-op threads, also used for the matmul peak")
    a(
        "--engines",
        type=_names,
        default=["eager"],
        help="comma-separated: eager, eager-fused, eager-bf16, compiled, compiled-bf16, onnx, onnx-int8, "
        "openvino, openvino-bf16",
    )
    a("--peers", type=_names, default=[], help="add peer models, e.g. 'monai'")
    a("--runs", type=int, default=20, help="timed latency runs after warm-up (>= 20 for the published protocol)")
    a("--train-steps", type=int, default=5, help="timed training steps at batch 8 (0: skip training)")
    a("--no-memory", dest="memory", action="store_false", help="skip peak RSS (a fresh process per row)")
    a("--in-channels", type=int, default=3)
    a("--classes", type=int, default=1)
    a("--json", action="store_true", help="print a JSON list of objects")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.bench.suite import bench, format_table
    from unetzoo.models import list_models
    from unetzoo.models.peers import list_peers

    models = args.models or list_models()
    for source in args.peers:
        models = [*models, *list_peers(source)]
    print(f"benchmarking {len(models)} models on {', '.join(args.engines)}...", file=sys.stderr)
    rows = bench(
        models,
        size=tuple(args.size),
        batch=args.batch,
        threads=args.threads,
        engines=args.engines,
        runs=args.runs,
        train_steps=args.train_steps,
        memory=args.memory,
        in_channels=args.in_channels,
        classes=args.classes,
    )
    print(json.dumps([r.as_dict() for r in rows], indent=2) if args.json else format_table(rows))
    return 0
