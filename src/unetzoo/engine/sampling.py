"""The training order: which samples each epoch draws, in what order, on which rank."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Shuffled indices, reshuffled each epoch from (seed, epoch); ``samples`` per epoch (with repeats).

    An epoch longer than the data runs through it several times; the ``r``-th pass yields ``index + r * n``, a
    draw id of its own, so that :class:`~unetzoo.data.SegmentationDataset` (which serves draw ``i`` as sample
    ``i mod n`` with the augmentation stream of ``i``) crops and augments a repeated sample afresh. With plain
    indices, a 30-image dataset in a 568-sample epoch gave 30 distinct samples, each 19 times.

    With ``world_size`` > 1, rank ``r`` takes every ``world_size``-th index of that one order starting at ``r``
    (as DistributedSampler does): when ``samples`` is a whole number of global batches and the global batch a
    multiple of ``world_size``, the ranks' k-th local batches together hold exactly a single process's k-th batch.
    """

    def __init__(self, n: int, samples: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.samples, self.seed, self.epoch = n, samples, seed, 0
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):  # type: ignore[no-untyped-def]
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        reps = math.ceil(self.samples / self.n)
        order = torch.cat([torch.randperm(self.n, generator=g) + r * self.n for r in range(reps)])[: self.samples]
        return iter(order[self.rank :: self.world_size].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, self.samples, self.world_size))


class CaseBlockSampler(EpochSampler):
    """:class:`EpochSampler` for slices of volumes: the order runs through the cases ``block`` at a time (cases
    shuffled, then the slices of each block of cases shuffled), so a volume source whose LRU cache holds
    ``block`` cases reads each case once per pass instead of once per slice. With the whole training set in
    one block it is a plain shuffle.

    Args:
        cases: the case number of every sample.
        block: cases per block (the source's cache capacity).
    """

    def __init__(
        self, cases: Sequence[int], block: int, samples: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__(len(cases), samples, seed, rank, world_size)
        self.cases, self.block = torch.as_tensor(list(cases)), max(1, block)

    def __iter__(self):  # type: ignore[no-untyped-def]
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        numbers = torch.unique(self.cases)
        parts, drawn = [], 0
        while drawn < self.samples:
            shuffled = numbers[torch.randperm(len(numbers), generator=g)]
            repeat = drawn  # a pass draws every sample once, so its draw ids start here (see EpochSampler)
            for start in range(0, len(shuffled), self.block):
                members = torch.isin(self.cases, shuffled[start : start + self.block]).nonzero()[:, 0]
                parts.append(members[torch.randperm(len(members), generator=g)] + repeat)
                drawn += len(members)
        order = torch.cat(parts)[: self.samples]
        return iter(order[self.rank :: self.world_size].tolist())
