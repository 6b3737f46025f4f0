"""Issue 17: does loading the next batch in a worker process, beside the training step, pay on a 2-core CPU?

    .venv/bin/python benchmarks/loader_overlap.py [--data builtin:nuclei] [--head distance] [--model ulite]
        [--batch 4] [--patch 256 320] [--steps 60] [--rounds 2] [--threads 2]

Real samples through the engine's loader (``SegmentationDataset``: read, z-score, random patch, the ``default``
augmentation, the instance head's targets with ``--head``, else the mask) feed real training steps (forward
under bf16 autocast where the CPU has it, cross-entropy, backward, Adam) with 0 and 1 ``DataLoader`` workers,
alternated over ``--rounds`` rounds so machine load hits both alike. Each round: ``--steps`` steps after 5
warm-up steps, with the worker persistent and every target already encoded (as from the second epoch of a run).
Printed per setting: steps/s, milliseconds a step waits for its batch, and the ratio of 1 worker to none.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, RandomSampler

from unetzoo.data import Preprocess, SegmentationDataset, build_augment, open_source
from unetzoo.engine.distributed import autocast, native_bf16
from unetzoo.engine.train import training_memory_format
from unetzoo.instances import get_head
from unetzoo.models import create_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="builtin:nuclei")
    parser.add_argument("--head", default="distance", help="instance head, or 'none' for the mask")
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, nargs=2, default=(256, 320))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = open_source(args.data)
    head = None if args.head == "none" else get_head(args.head)
    dataset = SegmentationDataset(
        source, source.ids, preprocess=Preprocess("zscore", channels=source.in_channels),
        augment=build_augment("default"), patch_size=tuple(args.patch), seed=0, targets=head,
    )  # fmt: skip
    for k in dataset.indices:  # prepare (and cache) every sample once, as by a run's 2nd epoch
        dataset.prepared(k)
    classes = head.classes if head else max(source.classes, 2)
    model = create_model(args.model, in_channels=source.in_channels, classes=classes)
    layout = training_memory_format(torch.device("cpu"), model)
    model.to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    amp = native_bf16(torch.device("cpu"))

    def loader(workers: int) -> DataLoader:
        seeded = torch.Generator().manual_seed(0)
        order = RandomSampler(dataset, num_samples=args.batch * (args.steps + 5), generator=seeded)
        return DataLoader(dataset, batch_size=args.batch, sampler=order, num_workers=workers,
                          persistent_workers=workers > 0, drop_last=True)  # fmt: skip

    loaders = {workers: loader(workers) for workers in (0, 1)}
    rates: dict[int, list[float]] = {0: [], 1: []}
    waits: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(args.rounds):
        for workers, feed in loaders.items():
            batches = iter(feed)
            waited = 0.0
            for step in range(args.steps + 5):
                if step == 5:
                    start, waited = time.perf_counter(), 0.0
                before = time.perf_counter()
                images, targets = next(batches)
                waited += time.perf_counter() - before
                optimizer.zero_grad(set_to_none=True)
                with autocast(torch.device("cpu"), amp, "bf16"):
                    logits = model(images.contiguous(memory_format=layout))
                torch.nn.functional.cross_entropy(logits.float(), targets).backward()
                optimizer.step()
            rates[workers].append(args.steps / (time.perf_counter() - start))
            waits[workers].append(1000 * waited / args.steps)
    print(f"{args.model}, {args.data}, batch {args.batch} x {args.patch[0]}x{args.patch[1]}, "
          f"{args.threads} threads, bf16 {amp}, median of {args.rounds} rounds\n")  # fmt: skip
    print("| loader workers | steps/s | ms a step waits for its batch |")
    print("|---:|---:|---:|")
    for workers in (0, 1):
        print(f"| {workers} | {statistics.median(rates[workers]):.2f} | {statistics.median(waits[workers]):.0f} |")
    ratios = [one / none for none, one in zip(rates[0], rates[1], strict=True)]
    print(f"\n1 worker / none: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
