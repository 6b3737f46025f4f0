"""One inference path for validation, ``eval``, ``predict`` and ``serve``.

A :class:`Segmenter` holds a model with the preprocessing it was trained with, so that a prediction sees
exactly what training saw: raw image (H, W, C) -> preprocess -> (tiled, optionally flip-TTA) forward ->
probabilities (K, H, W) -> labels (H, W).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from unetzoo.data import Preprocess
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.engine.sliding_window import probabilities, sliding_window, to_labels, with_flip_tta
from unetzoo.errors import UnetzooError
from unetzoo.models import SegmentationModel


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
    """

    model: SegmentationModel
    preprocess: Preprocess
    threshold: float = 0.5
    tile: tuple[int, int] = (512, 512)
    overlap: float = 0.25
    tta: bool = False
    class_names: tuple[str, ...] = ("background", "foreground")

    def __post_init__(self) -> None:
        self.model.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], **options: Any) -> Segmenter:
        payload = load_checkpoint(path)
        model = model_from_checkpoint(payload, path)
        options = {k: v for k, v in options.items() if v is not None}
        options.setdefault("threshold", payload.get("threshold", 0.5))
        names = tuple(payload.get("class_names") or ("background", "foreground"))
        return cls(model, Preprocess.from_dict(payload["preprocess"]), class_names=names, **options)

    @property
    def in_channels(self) -> int:
        return self.model.in_channels

    def _forward_probs(self, x: torch.Tensor) -> torch.Tensor:
        return probabilities(self.model(x))

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray, source: str = "image") -> torch.Tensor:
        """Probabilities (K, H, W) for a raw image (H, W, C) as read by ``unetzoo.data``."""
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape[2] != self.in_channels:
            raise UnetzooError(
                f"{source}: has {image.shape[2]} channel(s) but the model expects {self.in_channels}; "
                f"convert the image to {'grayscale' if self.in_channels == 1 else f'{self.in_channels} channels'}"
            )
        x = torch.from_numpy(np.ascontiguousarray(self.preprocess(image)))
        predictor = with_flip_tta(self._forward_probs) if self.tta else self._forward_probs
        return sliding_window(predictor, x, tile=self.tile, overlap=self.overlap)

    def labels(self, probs: torch.Tensor) -> torch.Tensor:
        """Hard labels (H, W) from :meth:`probabilities`."""
        return to_labels(probs, self.threshold)

    def predict(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Label map (H, W) int64 for a raw image."""
        return self.labels(self.probabilities(image, source)).numpy()
