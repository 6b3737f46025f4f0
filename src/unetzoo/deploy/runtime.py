"""Run an exported unetzoo model with onnxruntime, NumPy and Pillow only (no torch, no training code).

>>> from unetzoo.deploy.runtime import OnnxSegmenter
>>> seg = OnnxSegmenter("model.onnx")           # reads and checks model.onnx.json
>>> mask = seg.predict(image)                    # image: HxW or HxWxC array -> HxW int64 labels

The pipeline is the torch engine's (``unetzoo.engine.inference.Segmenter``), step for step: the card's
working scale (``resampling``: the image is resampled before and the probabilities after the network, with the
same NumPy filter, :mod:`unetzoo.utils.resample`), the card's preprocessing record, tiles of ``tile`` px
blended with a Gaussian map, optional flip TTA, the network's
mirror padding to a valid size and crop back, sigmoid (one class) or softmax, threshold or argmax; a
region-based model (the card's ``regions``: one sigmoid output per region, trained on volume slices) has
sigmoid probabilities painted back to labels in ``regions_class_order`` (:mod:`unetzoo.data.regions`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.regions import Regions
from unetzoo.deploy.card import read_card
from unetzoo.deploy.preprocess import check_record, preprocess
from unetzoo.deploy.tiling import padded_runner, probabilities, sigmoid, sliding_window, to_labels, with_flip_tta
from unetzoo.errors import UnetzooError
from unetzoo.utils.channels import check_channels
from unetzoo.utils.resample import Resampling, apply_to_image, probabilities_back


def open_session(model: Path | bytes, threads: int | None, name: str) -> Any:
    """An onnxruntime CPU session on ``model`` (a file or its bytes; ``name`` is what errors call it)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise UnetzooError("onnxruntime is not installed; run `pip install onnxruntime`") from exc
    options = ort.SessionOptions()
    # Idle workers sleep instead of spinning: a spinning pool steals the cores from whatever runs next
    # (torch, another session, the tiling loop in NumPy) and costs this session nothing measurable.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        source = model if isinstance(model, bytes) else str(model)
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UnetzooError(
            f"{name}: not a loadable ONNX model (truncated or corrupt: {reason[:200]}); re-export it"
        ) from exc


class OnnxSegmenter:
    """An exported model with its card: the ONNX twin of the torch ``Segmenter``.

    Args:
        path: the ``.onnx`` file; its card ``<path>.json`` must sit beside it.
        tile: sliding-window tile (H, W); images up to this size run in one pass (default: the card's planned
            inference tile, else 512 x 512).
        overlap: fractional tile overlap.
        tta: average over flips (identity, horizontal, vertical, both).
        threshold: foreground probability threshold for binary models (default: the card's).
        threads: onnxruntime intra-op threads (default: onnxruntime's choice).
        batch_size: tiles per onnxruntime call.

    Raises:
        UnetzooError: missing or foreign card, a model file that does not match the card's sha256, a file
            onnxruntime cannot load, or a model whose inputs/outputs disagree with its card.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tile: tuple[int, int] | None = None,
        overlap: float = 0.25,
        tta: bool = False,
        threshold: float | None = None,
        threads: int | None = None,
        batch_size: int = 4,
    ) -> None:
        self.path = Path(path)
        self.card = read_card(self.path)
        if self.card["file_format"] != "onnx":
            raise UnetzooError(f"{self.path}: is a {self.card['file_format']} export; OnnxSegmenter runs ONNX only")
        check_record(self.card["preprocess"], str(self.path))
        self.session = open_session(self.path, threads, str(self.path))
        self._check_signature()
        planned = (self.card.get("inference") or {}).get("tile") or (512, 512)
        self.tile = tuple(tile or planned)
        self.resampling = Resampling.from_dict(self.card.get("resampling"))
        self.overlap = overlap
        self.tta = tta
        self.batch_size = batch_size
        self.threshold = float(self.card["threshold"] if threshold is None else threshold)
        self.regions = Regions.from_dict(self.card["regions"]) if self.card.get("regions") else None
        self._forward = padded_runner(self._run, self.card["padding"])

    def _check_signature(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        names = ([i.name for i in inputs], [o.name for o in outputs])
        if names != ([self.card["input_name"]], [self.card["output_name"]]):
            raise UnetzooError(
                f"{self.path}: inputs/outputs {names} are not the card's "
                f"({self.card['input_name']!r} -> {self.card['output_name']!r}); this is not the exported model"
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != self.card["in_channels"]:
            raise UnetzooError(
                f"{self.path}: input shape {shape} does not take (N, {self.card['in_channels']}, H, W) as its card "
                "says; re-export the model"
            )

    # -- properties the CLI reads ---------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        return int(self.card["in_channels"])

    @property
    def classes(self) -> int:
        return int(self.card["classes"])

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.card["class_names"])

    # -- inference ------------------------------------------------------------------------------------
    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.card["input_name"]: x})[0]

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, K, H, W) for a preprocessed batch (N, C, H, W) of any H, W (``model(x)`` in torch)."""
        return self._forward(np.asarray(batch, dtype=np.float32))

    def _probs(self, batch: np.ndarray) -> np.ndarray:
        logits = self._forward(batch)
        return sigmoid(logits) if self.regions is not None else probabilities(logits)

    def preprocess(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Raw ``HxW(xC)`` image -> ``CxHxW`` float32 network input (the card's working scale and preprocessing).

        As the torch ``Segmenter``, channels convert by :mod:`unetzoo.utils.channels` (a gray image for an RGB
        model is replicated); an image whose channels do not convert is refused.
        """
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise UnetzooError(f"{source}: expected an HxW or HxWxC image, got shape {image.shape}")
        check_channels(1 if image.ndim == 2 else image.shape[-1], self.in_channels, source)
        return preprocess(apply_to_image(image, self.resampling), self.card["preprocess"], source)

    def probabilities(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Probabilities (K, H, W) float32 at the original size for a raw image (H, W[, C])."""
        image = np.asarray(image)
        x = self.preprocess(image, source)
        predictor = with_flip_tta(self._probs) if self.tta else self._probs
        probs = sliding_window(predictor, x, tile=self.tile, overlap=self.overlap, batch_size=self.batch_size)
        return probabilities_back(probs, image.shape[:2])

    def probabilities_many(self, images: list[np.ndarray], source: str = "image") -> np.ndarray:
        """Probabilities (N, K, H, W) float32 of same-size raw images (the slices of a volume)."""
        return np.stack([self.probabilities(image, source) for image in images])

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """Hard labels (H, W) int64 from :meth:`probabilities` (region-based: painted in class order)."""
        if self.regions is not None:
            return self.regions.to_labels(probs, self.threshold)
        return to_labels(probs, self.threshold)

    def predict(self, image: np.ndarray, source: str = "image") -> np.ndarray:
        """Label map (H, W) int64 for a raw image: the mask."""
        return self.labels(self.probabilities(image, source))

    def predict_file(self, path: str | os.PathLike[str]) -> np.ndarray:
        """:meth:`predict` on an image file read with Pillow (8/16-bit gray, RGB; alpha dropped)."""
        return self.predict(read_image(path), str(path))


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Pixels of an image file via Pillow: ``HxW`` or ``HxWx3`` in the stored dtype (RGBA/LA lose alpha)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I;16"):
                return np.asarray(im).astype(np.uint16)
            if im.mode not in ("L", "I", "F", "RGB"):
                im = im.convert("L" if im.mode in ("1", "LA", "La") else "RGB")
            return np.asarray(im)
    except (OSError, UnidentifiedImageError) as exc:
        raise UnetzooError(f"{path}: not a readable image ({exc}); check the file") from exc
