"""``unetzoo score PRED GT``: score any tool's predictions (unetzoo, Cellpose, StarDist, hand labels) against
ground truth, per image and in aggregate (see :mod:`unetzoo.metrics.score` and docs/metrics.md)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score a folder of predictions from any tool against ground truth")
    p.add_argument("pred", metavar="PRED", help="prediction label images: a folder or one file")
    p.add_argument("gt", metavar="GT", help="ground truth: a folder, a dataset root (instances/, masks/) or one file")
    p.add_argument("--instances", action="store_true", help="instance metrics (DSB 2018 score, F1, AJI)")
    p.add_argument(
        "--connected-components",
        action="store_true",
        help="with --instances: split each prediction's foreground into 4-connected objects first",
    )
    p.add_argument("--classes", type=int, default=2, help="masks: class count of class-id masks (default 2: binary)")
    p.add_argument("--strict", action="store_true", help="refuse files without a partner instead of skipping them")
    p.add_argument("--json", action="store_true", help="print the aggregate as one JSON object")
    p.add_argument("--csv", metavar="FILE.csv", help="write one row per image to this CSV")
    p.set_defaults(func=run)


OPTIONS = ("instances", "connected_components", "classes", "strict")
"""The options passed on to :func:`unetzoo.metrics.score_folders` as they are."""


def run(args: argparse.Namespace) -> int:
    from unetzoo.metrics.score import score_folders

    result = score_folders(args.pred, args.gt, **{name: getattr(args, name) for name in OPTIONS})
    for line in result.warnings():
        print(f"unetzoo: {line}", file=sys.stderr)
    if args.csv:
        result.write_csv(args.csv)
    print(result.to_json() if args.json else result.format_text())
    return 0
