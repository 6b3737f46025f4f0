"""2D-from-3D training on synthetic brains: mean region Dice after a time budget, and loader vs trainer speed.

Trains ``--model`` (default ulite) with ``unetzoo train --regions`` (one sigmoid per BraTS region: whole tumour,
tumour core, enhancing tumour) for ``--budget`` on ``synthetic:brain?n=40&size=96`` (4 modalities, axial
slices, each volume z-scored within the brain), then ``unetzoo eval`` on the validation cases (split by case),
whose slices are stacked back into volumes and scored in 3D. Bars (issue #18): mean region Dice >= 0.85
after 5 minutes; the loader serves training samples >= 3x faster than the trainer consumes them (measured
in this process on the run's own training slices, cache warm as during training, against the run's optimizer
steps alone on its batches).

Run: ``PYTHONPATH=src python benchmarks/volume_train.py [--budget 5m] [--out runs/volume_bench]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from unetzoo.data import Preprocess, SegmentationDataset, build_augment
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.losses import training_losses
from unetzoo.volumes.slices import SliceOptions, VolumeSlices

DATA = "synthetic:brain?n=40&size=96"


def unetzoo(*args: str) -> str:
    """Run the CLI as a user would; its stdout."""
    done = subprocess.run([sys.executable, "-m", "unetzoo", *args], check=True, capture_output=True, text=True)
    return done.stdout


def training_dataset(payload: dict) -> SegmentationDataset:
    """The run's training samples, as its loader serves them."""
    config = payload["config"]
    source = VolumeSlices(config["data"], SliceOptions.from_dict(payload["volume"]))
    train = source.training_slices(payload["split"]["train"], config["seed"])
    return SegmentationDataset(
        source,
        train,
        preprocess=Preprocess.from_dict(payload["preprocess"]),
        augment=build_augment(config["augment"]),
        patch_size=config["patch_size"],
        seed=config["seed"],
    )


def loader_rate(dataset: SegmentationDataset, seconds: float = 10.0) -> float:
    """Training samples per second the run's data pipeline yields (load, patch, augment, tensors)."""
    for i in range(len(dataset)):  # warm the case cache as the first epoch does
        dataset[i]
    order = np.random.default_rng(0).permutation(len(dataset))
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dataset[int(order[count % len(order)])]
        count += 1
    return count / (time.perf_counter() - start)


def trainer_rate(payload: dict, dataset: SegmentationDataset, steps: int = 10) -> float:
    """Training samples per second of the run's optimizer steps alone (forward, loss, backward, Adam) on its
    batches, with the weights it trained, in the layout training uses (channels_last on CPU)."""
    config = payload["config"]
    model = model_from_checkpoint(payload).train().to(memory_format=torch.channels_last)
    regions = payload["regions"]["ids"] if payload.get("regions") else None
    mode = "binary" if regions or payload["model"]["classes"] == 1 else "multiclass"
    _, loss_fn = training_losses(config["loss"], mode, model, regions)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    batch = config["batch_size"]
    pairs = [dataset[i] for i in range(batch)]
    images = torch.stack([x for x, _ in pairs]).contiguous(memory_format=torch.channels_last)
    masks = torch.stack([y for _, y in pairs])
    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            start = time.perf_counter()
        loss = loss_fn(model(images), masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="5m")
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--out", default="runs/volume_bench")
    parser.add_argument("--threads", type=int, help="torch threads of training and this process (default: all cores)")
    args = parser.parse_args()
    threads = ["--threads", str(args.threads)] if args.threads else []
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    unetzoo("train", "--data", args.data, "--model", args.model, "--regions", "--budget", args.budget,
            "--out", str(out), "--no-progress", *threads)  # fmt: skip
    wall = time.perf_counter() - start
    scores = json.loads(unetzoo("eval", "--checkpoint", str(out / "best.pt"), "--json"))
    summary = json.loads((out / "summary.json").read_text())
    payload = load_checkpoint(out / "last.pt")
    config = payload["config"]
    dataset = training_dataset(payload)
    served = loader_rate(dataset)
    trained = trainer_rate(payload, dataset)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"data {args.data}, model {args.model}, budget {args.budget} (train command: {wall:.0f} s wall)")
    print(f"batch {config['batch_size']}, patch {config['patch_size']}, loss {config['loss']}, "
          f"{summary['epochs_completed']} epochs, {summary['global_steps']} steps")  # fmt: skip
    regions = ("whole_tumor", "tumor_core", "enhancing_tumor")
    print("val cases:", scores["n_images"], "; " + ", ".join(f"{r} {scores['dice_' + r]:.4f}" for r in regions))
    print("HD95 (mm): " + ", ".join(f"{r} {scores['hd95_' + r]:.2f}" for r in regions))
    print(f"mean region Dice {scores['dice']:.4f} (bar >= 0.85: {'met' if scores['dice'] >= 0.85 else 'MISSED'})")
    ratio = served / trained
    verdict = "met" if ratio >= 3 else "MISSED"
    steps = trained / config["batch_size"]
    print(f"loader {served:.0f} samples/s (one process) vs trainer {trained:.1f} samples/s ({steps:.2f} steps/s): "
          f"{ratio:.1f}x (bar >= 3x: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
