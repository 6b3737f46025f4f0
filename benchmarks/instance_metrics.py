"""Instance speed on one large label image: the metrics (``instance_counts``: matching at the DSB thresholds +
AJI) and the post-processing of each instance head (seeded watershed), pinned to one core.

A 1024x1024 ground truth with 300 touching discs (random uint32 ids), and a prediction made from it by shifting
it 2 px, splitting every 10th object in two, merging every 15th with a neighbour, dropping 5% and adding 20
false objects (random int64 ids). Prints the median time of ``instance_counts`` (DSB thresholds only, the
IoU > 0.5 path), with an extra threshold of 0.3 (the ``linear_sum_assignment`` path), and on the same images with
ids 1..N in uint16 (as DSB 2018, StarDist and Cellpose store them: the lookup-table relabelling), single thread.
Post-processing: each head's target of the ground truth as one-hot probabilities, blurred (Gaussian, sigma 1.5 px)
so that they are soft like a network's, decoded with the default parameters (and the distance head also with
h-maxima seeds, as the search chooses on DSB 2018); prints the median time and the map of the objects found
(issue #15's bar: under 0.5 s for 1024x1024 with 300 nuclei on one core).

Run: ``.venv/bin/python benchmarks/instance_metrics.py [--size 1024] [--objects 300] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy import ndimage

from unetzoo.data.instances import relabel
from unetzoo.instances import HEADS, Decoding
from unetzoo.metrics import instance_counts


def discs(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """``n`` discs of radius 8-20 at random centres, later ones painted over earlier ones, random uint32 ids."""
    labels = np.zeros((size, size), np.uint32)
    yy, xx = np.ogrid[:size, :size]
    ids = rng.permutation(np.unique(rng.integers(1, 2**32 - 1, size=2 * n)))[:n].astype(np.uint32)
    for k in range(n):
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(8, 20)
        y0, x0 = max(0, int(cy - r)), max(0, int(cx - r))
        y1, x1 = min(size, int(cy + r) + 1), min(size, int(cx + r) + 1)
        inside = (yy[y0:y1] - cy) ** 2 + (xx[:, x0:x1] - cx) ** 2 <= r * r
        labels[y0:y1, x0:x1][inside] = ids[k]
    return labels


def perturb(rng: np.random.Generator, true: np.ndarray) -> np.ndarray:
    """A plausible prediction: shifted, some objects split, merged, dropped, plus false positives."""
    pred = np.roll(true, (2, 2), axis=(0, 1)).astype(np.int64)
    ids = np.unique(pred[pred != 0])
    for k, i in enumerate(ids):
        where = pred == i
        if k % 10 == 0:  # split along a vertical line
            cols = np.nonzero(where.any(axis=0))[0]
            half = where & (np.arange(pred.shape[1]) > cols.mean())
            pred[half] = -(k + 1)
        elif k % 15 == 0:
            pred[where] = ids[(k + 1) % len(ids)]
        elif rng.random() < 0.05:
            pred[where] = 0
    extra = discs(rng, pred.shape[0], 20).astype(np.int64) << 20
    return np.where((pred == 0) & (extra != 0), extra, pred)


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = np.random.default_rng(0)
    true = discs(rng, args.size, args.objects)
    pred = perturb(rng, true)
    counts = instance_counts(pred, true)
    n_true, n_pred = counts.n_true, counts.n_pred
    touching = ndimage.label(true != 0)[1]
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(f"{args.size}x{args.size}: {n_true} true objects ({touching} connected components), {n_pred} predicted")
    scores = counts.scores()
    print(f"map {scores['map']:.3f}, ap50 {scores['ap50']:.3f}, f1_50 {scores['f1_50']:.3f}, aji {scores['aji']:.3f}")
    dsb = median_seconds(lambda: instance_counts(pred, true), args.repeats)
    low = median_seconds(lambda: instance_counts(pred, true, thresholds=[0.3]), args.repeats)
    print(f"instance_counts, DSB thresholds:           {dsb * 1000:7.1f} ms (median of {args.repeats})")
    print(f"instance_counts, DSB thresholds + IoU 0.3: {low * 1000:7.1f} ms (median of {args.repeats})")
    pred16, true16 = (relabel(x)[0].astype(np.uint16) for x in (pred, true))
    small = median_seconds(lambda: instance_counts(pred16, true16), args.repeats)
    print(f"instance_counts, DSB thresholds, uint16:   {small * 1000:7.1f} ms (median of {args.repeats})")
    decodings = [(name, Decoding()) for name in HEADS] + [("distance", Decoding(h=0.25))]
    for name, params in decodings:
        head = HEADS[name]
        onehot = np.eye(head.classes, dtype=np.float32)[head.encode(relabel(true)[0])]
        probs = np.stack([ndimage.gaussian_filter(onehot[..., k], 1.5) for k in range(head.classes)])
        found = head.decode(probs, params)
        took = median_seconds(lambda head=head, probs=probs, params=params: head.decode(probs, params), args.repeats)
        quality = instance_counts(found, true).scores()["map"]
        summary = f"map {quality:.3f}, {found.max()} objects"
        seeds = f"h-maxima seeds, h {params.h}" if params.h else "threshold seeds"
        print(f"post-processing, {name:8s} head, {seeds:24s} {took * 1000:7.1f} ms ({summary})")


if __name__ == "__main__":
    main()
