"""``unetzoo plan``: the training plan for a dataset, a network and a budget, with the reason for each choice."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="plan training (scale, patch, batch, recipe) from the data, as train does")
    p.add_argument("--data", required=True, help="dataset: folder, nnU-Net folder, tif stack, builtin: or synthetic:")
    p.add_argument("--model", default="ulite", help="registered model name (default ulite)")
    p.add_argument("--preset", help="model preset")
    p.add_argument("--budget", help="wall-clock training budget, e.g. 5m (default 10m)")
    p.add_argument("--threads", type=int, help="torch threads training will use (default: all cores)")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--resize", type=int, nargs=2, metavar=("H", "W"), help="fix the resampling: every image to HxW")
    p.add_argument("--scale", type=float, help="fix the resampling: every side times F")
    p.add_argument("--patch-size", type=int, nargs=2, metavar=("H", "W"), help="fix the patch")
    p.add_argument("--batch-size", type=int, help="fix the batch size")
    p.add_argument("--format", dest="data_format", help="force the data format instead of detecting it")
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time steps in bf16 autocast, as train --amp (default: as train decides for this CPU)",
    )
    p.add_argument(
        "--retime",
        action="store_true",
        help="time the network on this machine again, replacing the cached timings (e.g. taken while it was busy)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON (reusable with train --plan FILE)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from unetzoo.engine.distributed import resolve_amp
    from unetzoo.errors import UnetzooError
    from unetzoo.planning import make_plan
    from unetzoo.utils.resample import Resampling

    if args.resize and args.scale:
        raise UnetzooError("give one of --resize and --scale, not both", exit_code=2)
    if args.threads:
        torch.set_num_threads(args.threads)
    resampling = None
    if args.resize:
        resampling = Resampling("resize", size=tuple(args.resize))
    elif args.scale:
        resampling = Resampling("scale", scale=args.scale) if args.scale != 1.0 else Resampling()
    plan = make_plan(
        args.data,
        args.model,
        budget=args.budget,
        threads=args.threads,
        preset=args.preset,
        val_fraction=args.val_fraction,
        resampling=resampling,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        amp=resolve_amp(args.amp, torch.device("cpu")),
        retime=args.retime,
        fmt=args.data_format,
    )
    print(plan.to_json() if args.json else plan.describe())
    return 0
