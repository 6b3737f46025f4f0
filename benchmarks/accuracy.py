"""Accuracy bars of the engine issue: train under a wall-clock budget on real data, evaluate the held-out split.

    .venv/bin/python benchmarks/accuracy.py --dataset isbi --model ulite --budget 15m --loss bce+dice_fgbg --tta
    .venv/bin/python benchmarks/accuracy.py --dataset dsb --model ulite --budget 15m
    .venv/bin/python benchmarks/accuracy.py --dataset dsb --model unet_sharp --budget 15m \
        --deep-supervision --loss unetsharp --steps-per-epoch 50

Data comes from UNETZOO_SHARED_DATA (default ../shared/data). Splits: ISBI 2012 24 train / 6 val by seed 0;
DSB 2018 80/20 by seed 0. For ISBI (cells = 255 = foreground) it also prints the trivial baseline (predict
"all cell") and the membrane-positive Dice, since cell Dice alone flatters any model on this polarity.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from unetzoo.data import Source, open_source
from unetzoo.engine.evaluate import aggregate, evaluate_images
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.train import train
from unetzoo.metrics import compute_all
from unetzoo.metrics.confusion import class_scores, confusion_matrix

RECIPES = {
    "isbi": {"folder": "isbi2012", "val_fraction": 0.2, "patch_size": (256, 256), "augment": "default"},
    "dsb": {"folder": "dsb2018", "val_fraction": 0.2, "patch_size": (256, 256), "augment": "default"},
}


def membrane_view(source: Source, segmenter: Segmenter, indices: list[int]) -> dict[str, float]:
    """Membrane-positive scores and the all-cell baseline on the same images."""
    membrane, baseline = [], []
    for i in indices:
        image, mask = source.load(i)
        pred = segmenter.predict(image)
        membrane.append(compute_all(1 - pred, 1 - mask, num_classes=2))
        baseline.append(compute_all(np.ones_like(mask), mask, num_classes=2))
    m, b = aggregate(membrane), aggregate(baseline)
    return {
        "membrane_dice": m["dice"],
        "membrane_iou": m["iou"],
        "all_cell_dice": b["dice"],
        "all_cell_miou": b["miou"],
    }


def threshold_from_train(source: Source, segmenter: Segmenter, indices: list[int]) -> float:
    """The foreground threshold with the best mean MIoU on the *training* images (the validation images stay
    unseen): a calibration any user can run on their own labelled data, as nnU-Net tunes post-processing on
    its training folds. Grid 0.30..0.70 by 0.05; ties go to the threshold nearest 0.5."""
    grid = [round(0.3 + 0.05 * k, 2) for k in range(9)]
    totals = dict.fromkeys(grid, 0.0)
    for i in indices:
        image, mask = source.load(i)
        probs = segmenter.probabilities(image)
        for t in grid:
            segmenter.threshold = t
            cm = confusion_matrix(segmenter.labels(probs).numpy(), mask, 2)
            totals[t] += np.mean([class_scores(cm, c)["iou"] for c in (0, 1)])
    return max(grid, key=lambda t: (totals[t], -abs(t - 0.5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(RECIPES), required=True)
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--preset")
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--loss", default="bce+dice")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--deep-supervision", action="store_true")
    parser.add_argument("--steps-per-epoch", type=int, default=25, help="training steps between validations")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--tta", action="store_true", help="also report the scores with flip TTA (unetzoo eval --tta)")
    parser.add_argument(
        "--threshold-from-train",
        action="store_true",
        help="also report the scores at the threshold that maximises MIoU on the training images",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    recipe = RECIPES[args.dataset]
    shared = Path(os.environ.get("UNETZOO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    data = str(shared / recipe["folder"])
    out = args.out or f"runs/accuracy-{args.dataset}-{args.model}-{args.preset or 'default'}"
    result = train(
        model=args.model,
        preset=args.preset,
        data=data,
        budget=args.budget,
        epochs=100_000,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        augment=recipe["augment"],
        patch_size=recipe["patch_size"],
        val_fraction=recipe["val_fraction"],
        seed=0,
        out=out,
        deep_supervision=args.deep_supervision,
        scheduler="cosine",
        iters_per_epoch=args.steps_per_epoch,
        progress=False,
    )
    source = open_source(data)
    index = {sid: i for i, sid in enumerate(source.ids)}
    split = json.loads((result.out / "split.json").read_text())
    val = [index[s] for s in split["val"]]
    segmenter = Segmenter.from_checkpoint(result.best_checkpoint)
    scores = evaluate_images(segmenter, source, val, em=args.dataset == "isbi").aggregate
    figures = {
        "dataset": args.dataset,
        "model": args.model,
        "preset": args.preset,
        "budget": args.budget,
        "params": result.summary["params"],
        "epochs": result.summary["epochs_completed"],
        "steps": result.summary["global_steps"],
        "best_epoch": result.summary["best_epoch"],
        **{k: scores.get(k) for k in ("dice", "iou", "miou", "accuracy", "hd95", "v_rand", "v_info")},
    }
    if args.dataset == "isbi":
        figures.update(membrane_view(source, segmenter, val))
    if args.tta:
        segmenter.tta = True
        tta = evaluate_images(segmenter, source, val, em=args.dataset == "isbi").aggregate
        figures.update({f"tta_{k}": tta.get(k) for k in ("dice", "iou", "miou", "accuracy")})
        if args.dataset == "isbi":
            figures.update({f"tta_{k}": v for k, v in membrane_view(source, segmenter, val).items()})
    if args.threshold_from_train:
        threshold = threshold_from_train(source, segmenter, [index[s] for s in split["train"]])
        segmenter.threshold = threshold
        tuned = evaluate_images(segmenter, source, val).aggregate
        prefix = "tta_" if args.tta else ""
        figures[f"{prefix}train_threshold"] = threshold
        figures.update({f"{prefix}thr_{k}": tuned.get(k) for k in ("dice", "iou", "miou", "accuracy")})
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
