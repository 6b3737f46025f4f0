"""One inference path for validation, ``eval``, ``predict`` and ``serve``.

A :class:`Segmenter` holds a model with the preprocessing and working scale it was trained with, so that a
prediction sees exactly what training saw: raw image (H, W, C) -> resample to the working scale ->
preprocess -> (tiled, optionally flip-TTA) forward -> probabilities (K, h, w) -> resampled back to (K, H, W)
-> labels (H, W). Scores are therefore always computed at the original size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from unetzoo.data import Preprocess
from unetzoo.data.regions import Regions
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.engine.sliding_window import probabilities, sliding_window, to_labels, with_flip_tta
from unetzoo.models import SegmentationModel
from unetzoo.utils.channels import check_channels
from unetzoo.utils.resample import Resampling, apply_to_image, probabilities_back


@dataclass
class Segmenter:
    """A model plus its preprocessing and decision threshold.

    Args:
        model: a unetzoo model (put in eval mode).
        preprocess: the training run's :class:`unetzoo.data.Preprocess`.
        threshold: foreground probability threshold for binary models.
        tile: sliding-window tile (H, W); images up to this size run in one pass.
        overlap: fractional tile overlap.
        tta: average over flips.
        resampling: the run's working scale (native by default).
        regions: a region-based model (one sigmoid output per region, :mod:`unetzoo.data.regions`): its
            probabilities are per region and its labels painted in ``regions_class_order``.
    """

    model: SegmentationModel
    preprocess: Preprocess
    threshold: float = 0.5
    tile: tuple[int, int] = (512, 512)
    overlap: float = 0.25
    tta: bool = False
    class_names: tuple[str, ...] = ("background", "foreground")
    resampling: Resampling = field(default_factory=Resampling)
    regions: Regions | None = None

    def __post_init__(self) -> None:
        self.model.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], **options: Any) -> Segmenter:
        payload = load_checkpoint(path)
        model = model_from_checkpoint(payload, path)
        options = {k: v for k, v in options.items() if v is not None}
        options.setdefault("threshold", payload.get("threshold", 0.5))
        planned = payload.get("inference") or {}
        if planned.get("tile"):
            options.setdefault("tile", tuple(planned["tile"]))
        names = tuple(payload.get("class_names") or ("background", "foreground"))
        resampling = Resampling.from_dict(payload.get("resampling"))
        regions = Regions.from_dict(payload["regions"]) if payload.get("regions") else None
        preprocess = Preprocess.from_dict(payload["preprocess"])
        return cls(model, preprocess, class_names=names, resampling=resampling, regions=regions, **options)

    @property
    def in_channels(self) -> int:
        return self.model.in_channels

    @property
    def classes(self) -> int:
        """The network's outputs: 1 (binary), the classes (softmax) or the regions (sigmoid each)."""
        return self.model.classes

    def _forward_probs(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        return torch.sigmoid(logits) if self.regions is not None else probabilities(logits)

    def network_input(self, image: np.ndarray, source: str = "image") -> torch.Tensor:
        """The network's input (C, h, w) for a raw image (H, W, C): resampled to the working scale, preprocessed."""
        if image.ndim == 2:
            image = image[:, :, None]
        check_channels(image.shape[2], self.in_channels, source)
        return torch.from_numpy(np.ascontiguousarray(self.preprocess(apply_to_image(image, self.resampling))))

    def to_original(self, probs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Probabilities (K, h, w) at the working scale -> (K, H, W) at the original ``size``."""
        if tuple(probs.shape[1:]) == tuple(size):
            return probs
        return torch.from_numpy(probabilities_back(probs.numpy(), size))

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray, source: str = "image") -> torch.Tensor:
        """Probabilities (K, H, W) at the original size for a raw image (H, W, C) as read by ``unetzoo.data``."""
        x = self.network_input(image, source)
        predictor = with_flip_tta(self._forward_probs) if self.tta else self._forward_probs
        return self.to_original(sliding_window(predictor, x, tile=self.tile, overlap=self.overlap), image.shape[:2])

    def labels(self, probs: torch.Tensor) -> torch.Tensor:
        """Hard labels (H, W) from :meth:`probabilities`."""
        if self.regions is not None:
            return torch.from_numpy(self.regions.to_labels(probs.numpy(), self.threshold))
        return to_labels(probs, self.threshold)

    def predict(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Label map (H, W) int64 for a raw image."""
        return self.labels(self.probabilities(image, source)).numpy()

    @torch.inference_mode()
    def probabilities_many(
        self, images: Sequence[np.ndarray], source: str = "image", batch_size: int = 16
    ) -> np.ndarray:
        """Probabilities (N, K, H, W) float32 of same-size raw images (the slices of a volume). Batched forwards
        when an image is one tile at the working scale without TTA -- exactly :meth:`probabilities`'
        single-tile pass -- else one :meth:`probabilities` per image."""
        h, w = images[0].shape[:2]
        if self.tta or not self.resampling.is_native or h > self.tile[0] or w > self.tile[1]:
            return np.stack([self.probabilities(image, source).numpy() for image in images])
        probs = []
        for start in range(0, len(images), batch_size):
            x = torch.stack([self.network_input(image, source) for image in images[start : start + batch_size]])
            probs.append(self._forward_probs(x).numpy())
        return np.concatenate(probs)

    def predict_many(self, images: Sequence[np.ndarray], source: str = "image", batch_size: int = 16) -> np.ndarray:
        """Label maps (N, H, W) of same-size raw images: :meth:`labels` of :meth:`probabilities_many`."""
        probs = self.probabilities_many(images, source, batch_size)
        return np.stack([self.labels(torch.from_numpy(p)).numpy() for p in probs])
