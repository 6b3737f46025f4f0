"""``unetzoo train``: train a model; flags override ``--config run.yaml``, which overrides the training plan
(``unetzoo plan``: scale, patch, batch and recipe chosen from the data, the network and the budget)."""

from __future__ import annotations

import argparse
import os

from unetzoo.cli.data import add_volume_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a dataset")
    a = p.add_argument
    # Every default is None so that only flags the user typed override the YAML config and the defaults.
    a("--config", dest="config_file", help="YAML file holding any of these options")
    a("--model", help="registered model name (see `unetzoo models`)")
    a("--preset", help="model preset (see unetzoo.list_presets)")
    a("--data", help="dataset: folder, nnU-Net folder, tif stack, builtin:NAME or synthetic:NAME")
    a("--format", dest="data_format", help="force the data format instead of detecting it")
    add_volume_arguments(p)
    a(
        "--regions",
        action="store_true",
        default=None,
        help="volume data: region-based training on the dataset's regions (BraTS: whole tumour, core, enhancing)",
    )
    a("--positive", type=int, help="mask value that is foreground (binary masks)")
    a("--invert-mask", action="store_true", default=None, help="swap foreground and background")
    a("--task", choices=("semantic", "instances"), help="instances: one label per object (needs instances/)")
    a("--head", help="instance head for --task instances: distance (default), boundary or contact")
    a("--epochs", type=int, help="passes over the training split (default: the budget alone stops training)")
    a("--budget", help="wall-clock limit, e.g. 90s, 10m, 1h (default 10m; with --epochs, whichever comes first)")
    a("--iters-per-epoch", type=int, help="optimizer steps between validations (default: planned)")
    a("--plan", help="use this plan (`unetzoo plan --json > FILE`) instead of planning")
    a("--resize", type=int, nargs=2, metavar=("H", "W"), help="train and predict with every image resized to HxW")
    a("--scale", type=float, help="train and predict with every image side times F (1: native resolution)")
    a("--batch-size", type=int)
    a("--lr", type=float)
    a("--weight-decay", type=float)
    a("--optimizer", choices=("adam", "adamw", "sgd"))
    a("--scheduler", choices=("cosine", "plateau", "step", "none"))
    a("--loss", help="loss spec, e.g. bce+dice, 0.5*focal+dice+0.5*lovasz, unetsharp")
    a("--augment", help="augmentation preset: none, default, unet, pyconv, sdunet, unetsharp, ulite")
    a("--deep-supervision", action="store_true", default=None)
    a("--patch-size", type=int, nargs=2, metavar=("H", "W"))
    a(
        "--normalize",
        choices=("zscore", "zscore_polarity", "nonzero", "minmax", "dataset", "none"),
        help="per-image normalisation (volume data: per slice, replacing the per-volume z-score within nonzero voxels)",
    )
    a("--val-fraction", type=float)
    a("--test-fraction", type=float)
    a("--split-file", help="reuse a split.json of another run")
    a("--folds", type=int, help="k-fold cross-validation: number of folds")
    a("--fold", type=int, help="which fold to train (0-based)")
    a("--seed", type=int)
    a("--num-workers", type=int, help="data-loader processes (default 0: load in the training process)")
    a("--grad-clip", type=float)
    a(
        "--foreground-share",
        type=float,
        metavar="F",
        help="share of patches centred on an object where images exceed the patch (default 1/3, as nnU-Net)",
    )
    a("--early-stopping", type=int, metavar="PATIENCE", help="stop after PATIENCE validations with no better val Dice")
    a("--nan-policy", choices=("stop", "skip"))
    a("--threshold", type=float)
    a(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mixed precision: bf16 autocast on CPU, --amp-dtype on CUDA (default: on where the CPU has native bf16)",
    )
    a("--amp-dtype", choices=("bf16", "fp16"), help="autocast dtype (fp16: CUDA only, with loss scaling)")
    a("--device", choices=("auto", "cpu", "cuda"), help="auto (default): this rank's CUDA GPU if any, else CPU")
    a("--out", help="run folder (default runs/run)")
    a("--resume", action="store_true", default=None, help="continue the run in --out from its last.pt")
    a("--threads", type=int, help="torch intra-op threads (default: all cores)")
    a("--no-progress", dest="progress", action="store_false", default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unetzoo.engine.train import train

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    options = {k: v for k, v in vars(args).items() if k not in ("func", "command", "config_file", "threads")}
    result = train(config_file=args.config_file, **options)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    best = result.summary.get("best_val_dice")
    shown = f"{best:.4f}" if isinstance(best, float) else "n/a"
    print(f"run folder: {result.out}  (best val Dice {shown}; report: {result.out / 'report.html'})")
    return 0
