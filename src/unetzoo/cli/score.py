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


def run(args: argparse.Namespace) -> int:
    from unetzoo.metrics.score import score_folders

    result = score_folders(
        args.pred,
        args.gt,
        instances=args.instances,
        connected_components=args.connected_components,
        classes=args.classes,
        strict=args.strict,
    )
    for files, what in ((result.unpaired_gt, "ground-truth files have"), (result.unpaired_pred, "predictions have")):
        if files:
            print(
                f"unetzoo: warning: {len(files)} {what} no partner and were not scored (first: {files[0]}); "
                "pass --strict to refuse them",
                file=sys.stderr,
            )
    for hint in result.hints:
        print(f"unetzoo: hint: {hint}", file=sys.stderr)
    if args.csv:
        result.write_csv(args.csv)
    if args.json:
        print(result.to_json())
        return 0
    print(f"{len(result.per_image)} images scored")
    for key, value in result.to_dict().items():
        print(f"  {key:<24} {'n/a' if value is None else f'{value:.4f}' if isinstance(value, float) else value}")
    return 0
