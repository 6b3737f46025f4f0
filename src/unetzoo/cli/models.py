"""``unetzoo models``: every registered model with its parameters and GMACs."""

from __future__ import annotations

import argparse
import json

from unetzoo.bench.zoo_table import zoo_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models with params and GMACs")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.add_argument("--size", nargs=2, type=int, default=(256, 256), metavar=("H", "W"))
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=1)
    p.add_argument("--pattern", default=None, help="fnmatch filter on names, e.g. 'unet*'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = zoo_table(size=tuple(args.size), in_channels=args.in_channels, classes=args.classes, pattern=args.pattern)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16} {'preset':<16} {'params':>12} {'GMACs':>9}  paper")
    for r in rows:
        print(f"{r['name']:<16} {r['preset']:<16} {r['params']:>12,} {r['gmacs']:>9.3f}  {r['paper']}")
    print(f"\nGMACs at {args.in_channels}x{args.size[0]}x{args.size[1]}, batch 1; FLOPs = 2 x MACs.")
    return 0
