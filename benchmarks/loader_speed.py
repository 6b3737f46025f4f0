"""Data loader throughput: images/s of 256x256 training crops with the ``default`` augmentation.

Measures ``SegmentationDataset`` (load PNG -> z-score -> random 256x256 patch -> ``default`` augmentation ->
tensors) through a ``DataLoader`` at batch 8 with 0 and 2 workers, then, if ``unetzoo.create_model("ulite",
in_channels=3)`` is available, ulite's training step rate at batch 8 (forward, loss, backward, Adam step on
random 3x256x256 inputs, all threads) and the ratio loader / training. The loader should exceed training by >= 3x
so a 2-core trainer is never starved. Both are measured alone; in a real run they share the cores.

Run: ``.venv/bin/python benchmarks/loader_speed.py [--data builtin:nuclei] [--batches 30]`` (about a minute).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from unetzoo.data import Preprocess, SegmentationDataset, build_augment, open_source


def loader_rate(data: str, workers: int, batches: int, batch_size: int, patch: int) -> float:
    """Images/s over ``batches`` batches, after one warm-up batch (worker start-up excluded)."""
    src = open_source(data)
    dataset = SegmentationDataset(
        src,
        src.ids,
        preprocess=Preprocess("zscore", channels=src.in_channels),
        augment=build_augment("default"),
        patch_size=(patch, patch),
        seed=0,
    )
    sampler = torch.utils.data.RandomSampler(
        dataset, num_samples=(batches + 1) * batch_size, generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers)
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    count = sum(len(images) for images, _ in iterator)
    return count / (time.perf_counter() - start)


def ulite_train_rate(steps: int, batch_size: int, patch: int) -> float | None:
    """ulite training images/s at ``batch_size``; ``None`` if the model is not registered (yet)."""
    try:
        from unetzoo import create_model

        model = create_model("ulite", in_channels=3)
    except Exception as exc:  # the benchmark still reports the loader
        print(f"ulite not available ({type(exc).__name__}: {exc}); no ratio")
        return None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, 3, patch, patch)
    target = torch.randint(0, 2, (batch_size, patch, patch))

    def step() -> None:
        out = model(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        if out.shape[1] == 1:
            loss = F.binary_cross_entropy_with_logits(out[:, 0], target.float())
        else:
            loss = F.cross_entropy(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.train()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin:nuclei")
    parser.add_argument("--batches", type=int, default=30, help="timed loader batches per worker setting")
    parser.add_argument("--steps", type=int, default=5, help="timed ulite training steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch", type=int, default=256)
    args = parser.parse_args()

    print(f"date {datetime.date.today()}, {platform.processor() or platform.machine()}, torch {torch.__version__}")
    crops = f"{args.patch}x{args.patch} crops"
    print(f"threads {torch.get_num_threads()}, data {args.data}, {crops}, batch {args.batch_size}")
    rates = {w: loader_rate(args.data, w, args.batches, args.batch_size, args.patch) for w in (0, 2)}
    for workers, rate in rates.items():
        print(f"loader, default augmentation, {workers} workers: {rate:7.1f} images/s")
    train = ulite_train_rate(args.steps, args.batch_size, args.patch)
    if train is not None:
        print(f"ulite training step, batch {args.batch_size}:        {train:7.1f} images/s")
        for workers, rate in rates.items():
            print(f"ratio loader ({workers} workers) / training: {rate / train:5.1f}x")


if __name__ == "__main__":
    main()
