"""The ``openvino`` and ``openvino-bf16`` engines of ``unetzoo bench --engines``: the `unetzoo export` graph run
by OpenVINO's CPU plugin instead of onnxruntime.

OpenVINO compiles the ONNX graph for the CPU it runs on (fused convolution + activation + add kernels, blocked
layouts chosen per layer, oneDNN underneath). ``openvino-bf16`` asks for bf16 inference precision
(``INFERENCE_PRECISION_HINT``): on a CPU with native bf16 (AVX-512 BF16, AMX) activations and weights run in
bf16 with fp32 accumulation, as ``eager-bf16`` does in PyTorch; elsewhere the plugin keeps fp32. The graph is
the one :func:`unetzoo.deploy.engines.onnx_bytes` exports (WS and BatchNorm folded, axial pairs merged), padded
and cropped in NumPy by the model's padding rule, as the ``onnx`` engine does. Importing this module registers
both engines with :mod:`unetzoo.bench.engines`; it needs the ``openvino`` package (``pip install
'unetzoo[openvino]'``).
"""

from __future__ import annotations

import numpy as np
import openvino
from torch import nn

from unetzoo.bench.engines import Builder, Engine, Runner, register_engine
from unetzoo.deploy.engines import numpy_runner, onnx_bytes


def openvino_runner(model: nn.Module, threads: int, *, bf16: bool = False) -> Runner:
    """``run(batch)`` -> logits (N, K, H, W) numpy, compiled by OpenVINO for this CPU with ``threads`` threads
    (latency mode: one stream, all threads on one request)."""
    core = openvino.Core()
    network = core.read_model(model=onnx_bytes(model), weights=b"")
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
        "PERFORMANCE_HINT": "LATENCY",
    }
    request = core.compile_model(network, "CPU", config).create_infer_request()

    def infer(x: np.ndarray) -> np.ndarray:
        return np.asarray(request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})[0]).copy()

    return numpy_runner(infer, model)


def _openvino(bf16: bool) -> Builder:
    return lambda model, example, threads: openvino_runner(model, threads, bf16=bf16)


register_engine(Engine("openvino", "OpenVINO CPU plugin fp32, the `unetzoo export` graph", _openvino(bf16=False)))
register_engine(
    Engine("openvino-bf16", "OpenVINO CPU plugin, bf16 inference precision where the CPU has it", _openvino(bf16=True))
)
