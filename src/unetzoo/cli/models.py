"""``unetzoo models``: every registered model with its parameters and GMACs."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models with params and GMACs")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.add_argument("--size", nargs=2, type=int, default=(256, 256), metavar=("H", "W"))
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=1)
    p.add_argument("--pattern", default=None, help="fnmatch filter on names, e.g. 'unet*'")
    p.add_argument(
        "--pretrained", action="store_true", help="list the shipped pretrained models (data, licence, scores, sha256)"
    )
    p.set_defaults(func=run)


def show_pretrained(as_json: bool) -> int:
    from unetzoo import pretrained

    rows = [m.row() for m in pretrained.list()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<10} {'task':<10} {'architecture':<13} {'MB':>5} {'Dice':>6} {'map':>6} {'ap50':>6}"
    print(f"{header}  data (licence)")
    for r in rows:
        s = r["scores"]
        scores = " ".join(f"{s[k]:>6.3f}" if k in s else f"{'-':>6}" for k in ("dice", "map", "ap50"))
        size = r["size_bytes"] / 1e6
        print(f"{r['name']:<10} {r['task']:<10} {r['architecture']:<13} {size:>5.1f} {scores}  "
              f"{r['training_data']} ({r['data_licence']})")  # fmt: skip
    print("\nScores on held-out images; `--json` adds the recipe, object size and sha256 (docs/pretrained.md).")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        return show_pretrained(args.json)
    from unetzoo.bench.zoo_table import zoo_table  # imports torch: not at parser build (every command pays it)

    rows = zoo_table(size=tuple(args.size), in_channels=args.in_channels, classes=args.classes, pattern=args.pattern)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16} {'preset':<16} {'params':>12} {'GMACs':>9}  paper")
    for r in rows:
        print(f"{r['name']:<16} {r['preset']:<16} {r['params']:>12,} {r['gmacs']:>9.3f}  {r['paper']}")
    print(f"\nGMACs at {args.in_channels}x{args.size[0]}x{args.size[1]}, batch 1; FLOPs = 2 x MACs.")
    return 0
