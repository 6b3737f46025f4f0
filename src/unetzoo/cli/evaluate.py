"""``unetzoo eval``: every metric of a checkpoint on a split, per image and in aggregate."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint or a pretrained model")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--checkpoint", help="a last.pt/best.pt of a training run")
    given.add_argument("--model", help="a pretrained model's name (`unetzoo models --pretrained`); needs --data")
    p.add_argument("--data", help="dataset (default: the one the checkpoint was trained on)")
    p.add_argument(
        "--split",
        choices=("val", "test", "train", "all"),
        help="which images of the data (default: val for a checkpoint, all for a pretrained model)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--per-image", metavar="FILE.csv", help="write per-image metrics to this CSV")
    p.add_argument("--threshold", type=float)
    p.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    p.add_argument("--em", action="store_true", default=None, help="also EM scores (Rand, VI)")
    p.add_argument(
        "--instances", action="store_true", help="also object scores (map, ap50, f1_50, aji) against instances/"
    )
    p.add_argument("--format", dest="fmt")
    p.add_argument("--positive", type=int)
    p.add_argument("--invert-mask", action="store_true", default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.engine.evaluate import evaluate
    from unetzoo.errors import UnetzooError

    checkpoint = args.checkpoint
    if args.model:
        from unetzoo.pretrained import get

        if not args.data:
            raise UnetzooError(f"--model {args.model}: pass --data D, the images to score it on", exit_code=2)
        checkpoint = get(args.model).path("checkpoint")
    split = args.split or ("all" if args.model else "val")
    result = evaluate(
        checkpoint,
        args.data,
        split=split,
        threshold=args.threshold,
        tta=args.tta,
        em=args.em,
        instances=args.instances,
        fmt=args.fmt,
        positive=args.positive,
        invert_mask=args.invert_mask,
    )
    if args.per_image:
        result.write_csv(args.per_image)
    if args.json:
        print(result.to_json())
        return 0
    print(f"{len(result.per_image)} {result.unit} ({split} split)")
    for key, value in result.aggregate.items():
        print(f"  {key:<24} {'n/a' if value is None else f'{value:.4f}'}")
    return 0
