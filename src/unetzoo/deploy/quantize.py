"""INT8 static quantization of an exported ONNX model with onnxruntime's quantization tools.

Calibration images come from a data path: a folder of images (any format ``unetzoo.data`` reads), or any
dataset ``--data`` accepts (folder pairs, nnU-Net, stacks, ``builtin:``, ``synthetic:``); only the images
are used. Each goes through the card's preprocessing, is centre-cropped to ``size`` px and mirror-padded to
a valid input size, exactly what the runtime feeds the network. Activations are calibrated per tensor
(MinMax, asymmetric uint8); weights are quantized per output channel (symmetric int8); normalizations stay
float. The result is a QDQ graph that onnxruntime fuses into integer kernels.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.deploy.preprocess import preprocess
from unetzoo.deploy.tiling import mirror_pad, side_padding
from unetzoo.errors import UnetzooError

CALIBRATION_SIZE = 256
MAX_CALIBRATION_IMAGES = 32
FLOAT_OPS = frozenset({"BatchNormalization", "InstanceNormalization", "LayerNormalization"})
"""Op types left in float: normalizations (their 1-D scales do not quantize per channel, and gain nothing)."""


def calibration_images(data: str | os.PathLike[str], limit: int = MAX_CALIBRATION_IMAGES) -> Iterator[np.ndarray]:
    """Up to ``limit`` raw images (HxW[xC]) from a folder of images or from a dataset spec."""
    from unetzoo.data import open_source
    from unetzoo.data.io import IMAGE_EXTENSIONS, read_image
    from unetzoo.data.source import natural_key

    path = Path(data)
    files = (
        sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: natural_key(p.name))
        if path.is_dir()
        else []
    )
    if files:
        for p in files[:limit]:
            yield read_image(p)
        return
    try:
        source = open_source(str(data))
    except UnetzooError as exc:
        raise UnetzooError(f"no calibration images: {exc}; pass a folder of images or a dataset") from exc
    if len(source) == 0:
        raise UnetzooError(f"{data}: no calibration images found; pass a folder of images or a dataset")
    for i in range(min(limit, len(source))):
        yield source.read_image(i)


def network_input(image: np.ndarray, card: Mapping[str, Any], size: int = CALIBRATION_SIZE) -> np.ndarray:
    """One calibration batch (1, C, h, w): preprocessed, centre-cropped to ``size``, padded to a valid size."""
    x = preprocess(image, card["preprocess"])
    if x.shape[0] != card["in_channels"]:
        raise UnetzooError(f"calibration images have {x.shape[0]} channel(s), the model takes {card['in_channels']}")
    _, h, w = x.shape
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    x = x[:, top : top + size, left : left + size]
    t, b, _ = side_padding(card["padding"], x.shape[1])
    lft, r, _ = side_padding(card["padding"], x.shape[2])
    return np.ascontiguousarray(mirror_pad(x, t, b, lft, r)[None], dtype=np.float32)


def _reader(batches: list[np.ndarray], input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    return Reader()


def quantize_int8(
    fp32_model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    calibration: str | os.PathLike[str],
    card: Mapping[str, Any],
    *,
    limit: int = MAX_CALIBRATION_IMAGES,
) -> dict[str, Any]:
    """Quantize ``fp32_model`` to ``out`` (QDQ, static); return what the card records about it.

    Args:
        fp32_model: the fp32 ONNX file.
        out: the INT8 ONNX file to write (plain write: the caller moves it into place atomically).
        calibration: a folder of images or a dataset spec.
        card: the model card under construction (``preprocess``, ``padding``, ``in_channels``, ``input_name``).
        limit: most calibration images used.
    """
    try:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise UnetzooError("INT8 export needs onnxruntime; run `pip install onnxruntime`") from exc
    batches = [network_input(image, card) for image in calibration_images(calibration, limit)]
    if not batches:
        raise UnetzooError(f"{calibration}: no calibration images found; pass a folder of images or a dataset")
    with tempfile.TemporaryDirectory(prefix="unetzoo-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_model), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            _reader(batches, card["input_name"]),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=True,  # 7-bit weights: no int16 saturation in AVX2's u8 x s8 products (CPUs without VNNI)
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=sorted((set(QDQRegistry) | set(QLinearOpsRegistry)) - FLOAT_OPS),
        )
    return {
        "scheme": "static QDQ, uint8 activations (per tensor, MinMax), int8 weights (per channel, 7-bit range)",
        "calibration_images": len(batches),
        "calibration_size": CALIBRATION_SIZE,
    }
