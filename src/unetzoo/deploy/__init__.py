"""Deployment: export to ONNX / TorchScript (with INT8 and a model card) and a torch-free ONNX runtime.

>>> from unetzoo.deploy import export_model, OnnxSegmenter
>>> export_model("runs/x/best.pt", "onnx", "ulite.onnx")        # writes ulite.onnx and ulite.onnx.json
>>> OnnxSegmenter("ulite.onnx").predict(image)                   # numpy + Pillow + onnxruntime only

Names are resolved lazily so that ``import unetzoo.deploy.runtime`` never pulls in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_model": "unetzoo.deploy.export",
    "OnnxSegmenter": "unetzoo.deploy.runtime",
    "read_card": "unetzoo.deploy.card",
    "card_path": "unetzoo.deploy.card",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unetzoo.deploy' has no attribute {name!r}")
