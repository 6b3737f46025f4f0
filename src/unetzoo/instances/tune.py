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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from unetzoo.instances.decode import Decoding
from unetzoo.metrics.instances import aggregate_instances, instance_counts

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


def tune(
    decode: Callable[[np.ndarray, Decoding], np.ndarray],
    probs: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
) -> tuple[Decoding, float]:
    """``(best parameters, their map)`` for a head's ``decode`` over images ``probs`` with labels ``truths``."""
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
    for name, values in rounds:
        for value in values:
            candidate = replace(best, **{name: value})
            if candidate not in scores:
                scores[candidate] = score(decode, probs, truths, candidate)
        best = max(scores, key=lambda c: scores[c])
    return best, scores[best]


def tune_zooms(
    decode: Callable[[np.ndarray, Decoding], np.ndarray],
    probs_at: Callable[[float], Sequence[np.ndarray]],
    truths: Sequence[np.ndarray],
    zooms: Iterable[float] = ZOOMS,
) -> tuple[Decoding, float]:
    """:func:`tune` at each of ``zooms`` (smallest first; ``probs_at(zoom)``: the images' probabilities at that
    zoom, mapped back to their size) until one fails to gain ``ZOOM_GAIN``: ``(best parameters with their zoom,
    their map)``."""
    best: tuple[Decoding, float] | None = None
    for zoom in zooms:
        decoding, value = tune(decode, probs_at(zoom), truths)
        if best is not None and value <= best[1] + ZOOM_GAIN:
            break  # past the best zoom: a still larger one would cost more for less
        best = replace(decoding, zoom=zoom), value
    if best is None:
        raise ValueError("tune_zooms needs at least one zoom")
    return best
