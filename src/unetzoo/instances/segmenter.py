"""Objects from either inference engine: a segmenter's probabilities decoded into one label per object.

Torch is imported only by :meth:`InstanceSegmenter.from_checkpoint`, so an ONNX deployment (``predict --model``,
``serve``) decodes objects without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unetzoo.engine.predict import SegmenterLike, labels_from_probabilities
from unetzoo.instances.decode import Decoding, components
from unetzoo.instances.heads import InstanceHead, get_head
from unetzoo.instances.scale import rescaled


@dataclass
class InstanceSegmenter:
    """A segmenter (torch :class:`Segmenter` or the ONNX runtime's) plus how its probabilities become objects.

    Args:
        segmenter: the network with its preprocessing and working scale.
        head: the instance head it was trained with; None: connected components of its foreground.
        decoding: the post-processing parameters (:class:`unetzoo.instances.Decoding`).
    """

    segmenter: SegmenterLike
    head: InstanceHead | None = None
    decoding: Decoding = field(default_factory=Decoding)

    @classmethod
    def from_record(cls, segmenter: SegmenterLike, record: dict[str, Any] | None) -> InstanceSegmenter:
        """From the ``instances`` record of a checkpoint or model card (None: a semantic model)."""
        record = record or {}
        head = get_head(record["head"]) if record.get("head") else None
        return cls(segmenter, head, Decoding.from_dict(record.get("decoding")))

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], **options: Any) -> InstanceSegmenter:
        """A training checkpoint on the torch engine (options as :meth:`Segmenter.from_checkpoint`)."""
        from unetzoo.engine.checkpoint import load_checkpoint
        from unetzoo.engine.inference import Segmenter

        return cls.from_record(Segmenter.from_checkpoint(path, **options), load_checkpoint(path).get("instances"))

    def foreground(self, probs: np.ndarray) -> np.ndarray:
        """The binary foreground (``int64`` 0/1) of probabilities ``(K, H, W)``."""
        if self.head is None:
            return (labels_from_probabilities(probs, self.segmenter.threshold) > 0).astype(np.int64)
        return (1.0 - probs[0] > self.decoding.foreground).astype(np.int64)

    def decode(self, probs: np.ndarray, decoding: Decoding | None = None) -> np.ndarray:
        """Probabilities ``(K, H, W)`` -> ``int32`` labels ``(H, W)``, 0 = background."""
        decoding = decoding or self.decoding
        if self.head is None:
            return components(self.foreground(probs) > 0, decoding.min_area)
        return self.head.decode(probs, decoding)

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Probabilities ``(K, H, W)`` of a raw image (H, W, C), the network run at the decoding's ``zoom``."""
        segmenter = rescaled(self.segmenter, self.decoding.zoom)
        return np.asarray(segmenter.probabilities(image, source), dtype=np.float32)

    def predict(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """``int32`` instance labels of a raw image (H, W, C)."""
        return self.decode(self.probabilities(image, source))
