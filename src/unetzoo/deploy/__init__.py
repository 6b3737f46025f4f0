"""Deployment: export to ONNX / TorchScript (with INT8 and a model card) and a torch-free ONNX runtime.

>>> from unetzoo.deploy import export_model, OnnxSegmenter
>>> export_model("runs/x/best.pt", "onnx", "ulite.onnx")        # writes ulite.onnx and ulite.onnx.json
>>> OnnxSegmenter("ulite.onnx").predict(image)                   # numpy + Pillow + onnxruntime only

Names are resolved lazily so that ``import unetzoo.deploy.runtime`` never pulls in torch.
"""

from __future__ import annotations

from unetzoo.utils.lazy import lazy_attributes

_EXPORTS = {
    "export_model": "unetzoo.deploy.export",
    "OnnxSegmenter": "unetzoo.deploy.runtime",
    "read_card": "unetzoo.deploy.card",
    "card_path": "unetzoo.deploy.card",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
