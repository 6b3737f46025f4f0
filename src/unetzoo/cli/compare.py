"""``unetzoo compare``: train and evaluate several models under one protocol; write the papers' tables."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="train and evaluate models under one protocol; tables and plots")
    p.add_argument("--models", required=True, help="comma-separated names, optionally name:preset")
    p.add_argument("--data", required=True)
    p.add_argument("--budget", default="5m", help="wall-clock training budget per model (and fold)")
    p.add_argument("--folds", type=int, help="k-fold cross-validation (mean ± std over folds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", choices=("monai",), help="add MONAI's UNet, BasicUNet, AttentionUnet, BasicUNet++")
    p.add_argument("--prune-levels", help="with --models unet_sharp: train once with DS, evaluate levels, e.g. 1,2,3,4")
    planned = " (default: each model's training plan)"
    p.add_argument("--batch-size", type=int, help="batch size" + planned)
    p.add_argument("--lr", type=float, help="learning rate" + planned)
    p.add_argument("--loss", help="loss spec" + planned)
    p.add_argument("--augment", help="augmentation preset" + planned)
    p.add_argument("--patch-size", type=int, nargs=2, metavar=("H", "W"), help="training patch" + planned)
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"),
                   help="input size of the params/GMACs/latency columns (default 256 256)")  # fmt: skip
    p.add_argument("--steps-per-epoch", type=int, help="training steps between validations" + planned)
    p.add_argument("--em", action="store_true", help="also EM scores (V_rand, V_info)")
    p.add_argument("--task", choices=("semantic", "instances"), default="semantic",
                   help="instances: train every model with --head and add map, ap50, f1_50, aji")  # fmt: skip
    p.add_argument("--head", help="instance head for --task instances: distance (default), boundary or contact")
    p.add_argument("--threads", type=int)
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.bench.compare import CompareConfig, run_compare, write_tables

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.peers:
        from unetzoo.models.peers import list_peers

        models += list_peers(args.peers)
    levels = [int(v) for v in args.prune_levels.split(",")] if args.prune_levels else []
    config = CompareConfig(
        models=models,
        data=args.data,
        out=args.out,
        budget=args.budget,
        folds=args.folds,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        augment=args.augment,
        patch_size=tuple(args.patch_size) if args.patch_size else None,
        size=tuple(args.size),
        em=args.em,
        steps_per_epoch=args.steps_per_epoch,
        threads=args.threads,
        prune_levels=levels,
        task=args.task,
        **({"head": args.head} if args.head else {}),
    )
    rows = run_compare(config)
    write_tables(rows, args.out)
    from unetzoo.report.compare_report import markdown_table

    print(markdown_table(rows))
    print(f"\ntables, plots and report.html in {args.out}")
    return 0
