"""Choose the post-processing parameters (:class:`~unetzoo.instances.decode.Decoding`) on held-out images.

The network's probabilities of each image are computed once; the search then only re-decodes. It is a
coordinate search, each round keeping the best DSB 2018 score (``map``) so far: the seed threshold, the
foreground threshold, the smallest object kept, the dynamic ``h`` of h-maxima seeds (0 keeps threshold seeds),
then the seed threshold again (it interacts with the others). The candidate areas come from the held-out
objects themselves (fractions of their 5th-percentile area), so they follow the data's object size. The ranges
reach 0.9 and 0.8: a confident network wants high thresholds (a first DSB 2018 run chose the then-highest
candidates, 0.7 and 0.6).

:func:`tune_zooms` runs that search once per candidate ``zoom`` (the images enlarged before the network, its
probabilities mapped back: :class:`~unetzoo.instances.decode.Decoding`) and keeps the best; a larger zoom costs
its square in inference time, so it must beat the smaller ones by ``ZOOM_GAIN``, and the first zoom that does not
ends the search. Measured on DSB 2018: five ulite runs of 15 minutes, each searched at zoom 1 and at 1.25 on the
same validation images, gained ap50 +0.006 to +0.016 and map +0.010 to +0.022 at 1.25 (docs/benchmarks.md).
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from unetzoo.instances.decode import Decoding
from unetzoo.metrics.instances import InstanceCounts, aggregate_instances, instance_counts

SEEDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DYNAMICS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)
"""Candidate ``h`` of the h-maxima seeds (0: threshold seeds)."""
FOREGROUNDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
AREA_FRACTIONS = (0.0, 0.25, 0.5, 1.0)
"""Candidate ``min_area`` as fractions of the held-out objects' 5th-percentile area."""
ZOOMS = (1.0, 1.25, 1.5)
"""Candidate ``zoom`` of :func:`tune_zooms`, smallest (cheapest) first."""
ZOOM_GAIN = 0.002
"""The ``map`` by which a larger zoom must beat the best smaller one to be chosen."""


def score(decode: Callable[[np.ndarray, Decoding], np.ndarray], probs: Sequence[np.ndarray],
          truths: Sequence[np.ndarray], params: Decoding) -> float:  # fmt: skip
    """Mean DSB score (``map``) of ``params`` over the images."""
    counts = [instance_counts(decode(p, params), t) for p, t in zip(probs, truths, strict=True)]
    return float(aggregate_instances(counts)["map"])


_SHARED: tuple[Callable[[np.ndarray, Decoding], np.ndarray], Sequence[np.ndarray], Sequence[np.ndarray]] | None = None
"""``(decode, probs, truths)`` of the search under way, inherited by its forked workers (never pickled)."""


def _image_counts(task: tuple[int, Decoding]) -> InstanceCounts:
    assert _SHARED is not None, "a worker of tune() runs only in a process forked by it"
    decode, probs, truths = _SHARED
    i, params = task
    return instance_counts(decode(probs[i], params), truths[i])


@contextmanager
def _scorer(
    decode: Callable[[np.ndarray, Decoding], np.ndarray],
    probs: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    workers: int,
) -> Iterator[Callable[[Decoding], float]]:
    """``params -> map`` over the images; with ``workers > 1``, each image decoded in one of that many processes
    forked with the images in memory (a POSIX ``fork``; elsewhere, or for one image, in this process)."""
    global _SHARED
    if workers <= 1 or len(probs) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield lambda params: score(decode, probs, truths, params)
        return
    largest_first = sorted(range(len(probs)), key=lambda i: -probs[i].size)  # no worker is left with a big one
    _SHARED = (decode, probs, truths)
    try:
        with warnings.catch_warnings():  # Python >= 3.12 warns of fork in a threaded process (torch's threads)
            warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
            pool = multiprocessing.get_context("fork").Pool(min(workers, len(probs)))  # workers start here
        with pool:

            def parallel(params: Decoding) -> float:
                counts = pool.map(_image_counts, [(i, params) for i in largest_first], chunksize=1)
                in_order = [c for _, c in sorted(zip(largest_first, counts, strict=True))]
                return float(aggregate_instances(in_order)["map"])

            yield parallel
    finally:
        _SHARED = None


def tune(
    decode: Callable[[np.ndarray, Decoding], np.ndarray],
    probs: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    *,
    workers: int = 1,
) -> tuple[Decoding, float]:
    """``(best parameters, their map)`` for a head's ``decode`` over images ``probs`` with labels ``truths``;
    ``workers`` processes decode the images (same result as one: the scores are aggregated in image order)."""
    areas = np.concatenate([np.bincount(t.ravel())[1:] for t in truths] or [np.zeros(0, int)])
    typical = float(np.percentile(areas[areas > 0], 5)) if (areas > 0).any() else 0.0
    rounds = (
        ("seed", SEEDS),
        ("foreground", FOREGROUNDS),
        ("min_area", tuple(int(typical * f) for f in AREA_FRACTIONS)),
        ("h", DYNAMICS),
        ("seed", SEEDS),
    )
    scores: dict[Decoding, float] = {}
    best = Decoding()
    with _scorer(decode, probs, truths, workers) as scored:
        for name, values in rounds:
            for value in values:
                candidate = replace(best, **{name: value})
                if candidate not in scores:
                    scores[candidate] = scored(candidate)
            best = max(scores, key=lambda c: scores[c])
    return best, scores[best]


def tune_zooms(
    decode: Callable[[np.ndarray, Decoding], np.ndarray],
    probs_at: Callable[[float], Sequence[np.ndarray]],
    truths: Sequence[np.ndarray],
    zooms: Iterable[float] = ZOOMS,
    *,
    workers: int = 1,
) -> tuple[Decoding, float]:
    """:func:`tune` at each of ``zooms`` (smallest first; ``probs_at(zoom)``: the images' probabilities at that
    zoom, mapped back to their size) until one fails to gain ``ZOOM_GAIN``: ``(best parameters with their zoom,
    their map)``; ``workers`` as for :func:`tune`."""
    best: tuple[Decoding, float] | None = None
    for zoom in zooms:
        decoding, value = tune(decode, probs_at(zoom), truths, workers=workers)
        if best is not None and value <= best[1] + ZOOM_GAIN:
            break  # past the best zoom: a still larger one would cost more for less
        best = replace(decoding, zoom=zoom), value
    if best is None:
        raise ValueError("tune_zooms needs at least one zoom")
    return best
