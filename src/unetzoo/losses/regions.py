"""Region-based training (nnU-Net ``documentation/region_based_training.md``): one sigmoid output per region.

The target stays a label map (so resampling, cropping, augmentation and deep supervision's max-pooling treat
it as any mask); :class:`RegionLoss` turns it into each region's binary mask and averages a binary loss
(``bce+dice`` by default, as nnU-Net's region-based BCE + soft Dice) over the region channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class RegionLoss(nn.Module):
    """``mean_r loss(logits[:, r], target in regions[r])`` over logits ``(N, R, H, W)`` and labels ``(N, H, W)``.

    Args:
        loss: a binary-mode loss (one logit channel, 0/1 target).
        regions: the class ids of each region, in output channel order.
    """

    def __init__(self, loss: nn.Module, regions: Sequence[Sequence[int]]) -> None:
        super().__init__()
        self.loss = loss
        self.regions = [list(ids) for ids in regions]

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] != len(self.regions):
            raise ValueError(f"{len(self.regions)} regions need as many output channels, got {logits.shape[1]}")
        if target.ndim == 4 and target.shape[1] == 1:
            target = target[:, 0]
        terms = []
        for r, ids in enumerate(self.regions):
            inside = torch.isin(target, torch.tensor(ids, device=target.device, dtype=target.dtype))
            terms.append(self.loss(logits[:, r : r + 1], inside.long()))
        return torch.stack(terms).mean()

    def extra_repr(self) -> str:
        return f"regions={self.regions}"
