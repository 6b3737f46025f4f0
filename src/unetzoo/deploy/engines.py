"""The ``onnx`` and ``onnx-int8`` engines of ``unetzoo bench --engines``: the deployment path, timed in-process.

Each engine exports the model exactly as ``unetzoo export`` does (:func:`unetzoo.deploy.export.serialize`:
WS folded, axial pairs merged, BatchNorm folded, logits checked against eager), optionally quantizes it as
``unetzoo export --int8`` does (:func:`unetzoo.deploy.quantize.quantize_int8`), opens an onnxruntime session
with the bench's thread count and idle workers asleep (:func:`unetzoo.deploy.runtime.open_session`), and
pads and crops in NumPy from the model's padding rule as :class:`~unetzoo.deploy.runtime.OnnxSegmenter`
does. Importing this module registers both engines with :mod:`unetzoo.bench.engines`.

INT8 calibration: the bench has no dataset, so it calibrates on :data:`CALIBRATION` (synthetic nuclei with
the model's channel count). Latency does not depend on the calibration values; accuracy after INT8 is
measured on real images by ``benchmarks/deploy_int8_quality.py``.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from unetzoo.bench.engines import Batch, Builder, Engine, Runner, register_engine
from unetzoo.deploy.export import DEFAULT_OPSET, INPUT_NAME, padding_rule, prepare, serialize
from unetzoo.deploy.runtime import open_session
from unetzoo.deploy.tiling import padded_runner
from unetzoo.errors import UnetzooError
from unetzoo.models import SegmentationModel

CALIBRATION = "synthetic:nuclei?n=8&size=256&seed=0&channels={channels}"
_PREPROCESS = {"normalize": "zscore", "mean": None, "std": None}


def onnx_bytes(model: nn.Module, *, int8: bool = False) -> bytes:
    """The ONNX file ``unetzoo export`` would write for ``model`` (fp32, or INT8 on synthetic calibration)."""
    if not isinstance(model, SegmentationModel):
        raise UnetzooError(f"{type(model).__name__} is not a unetzoo model; the ONNX engines export those only")
    network = prepare(copy.deepcopy(model), None)
    metadata = {"model": type(model).__name__, "unetzoo_version": "bench", "torch_version": torch.__version__}
    data, _ = serialize(network, "onnx", DEFAULT_OPSET, metadata, merge_axial=not int8)
    if not int8:
        return data
    from unetzoo.deploy.quantize import quantize_int8

    channels = network.in_channels
    card = {
        "preprocess": {**_PREPROCESS, "channels": channels},
        "padding": padding_rule(network),
        "in_channels": channels,
        "input_name": INPUT_NAME,
    }
    with tempfile.TemporaryDirectory(prefix="unetzoo-engine-") as tmp:
        fp32, quantized = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        fp32.write_bytes(data)
        quantize_int8(fp32, quantized, CALIBRATION.format(channels=channels), card)
        return quantized.read_bytes()


def numpy_runner(infer: Callable[[np.ndarray], np.ndarray], model: nn.Module) -> Runner:
    """``run(batch)`` for a NumPy ``infer`` of an exported graph: tensors or arrays in, the batch mirror-padded
    and the logits cropped by ``model``'s padding rule, as :class:`~unetzoo.deploy.runtime.OnnxSegmenter` does."""
    forward = padded_runner(infer, padding_rule(model))

    def run(batch: Batch) -> np.ndarray:
        return forward(batch.numpy() if isinstance(batch, torch.Tensor) else batch)

    return run


def onnx_runner(model: nn.Module, threads: int, *, int8: bool = False) -> Runner:
    """``run(batch)`` -> logits (N, K, H, W) numpy, through onnxruntime with ``threads`` intra-op threads."""
    session = open_session(onnx_bytes(model, int8=int8), threads, f"{type(model).__name__} (in-memory export)")
    return numpy_runner(lambda x: session.run(None, {INPUT_NAME: x})[0], model)  # type: ignore[return-value]


def _onnx(int8: bool) -> Builder:
    return lambda model, example, threads: onnx_runner(model, threads, int8=int8)


register_engine(Engine("onnx", "onnxruntime fp32, the `unetzoo export` graph", _onnx(int8=False)))
register_engine(
    Engine("onnx-int8", "onnxruntime INT8 (static QDQ), the `unetzoo export --int8` graph", _onnx(int8=True))
)
