"""The local segmentation service: a web page to drop images on and an HTTP API for other tools.

>>> from unetzoo.serve import serve
>>> serve("runs/x/best.pt")                      # or an exported "model.onnx"; http://127.0.0.1:8000/

See docs/serve.md for the API, the limits and the page. Only the standard library's HTTP server is used.
Names are resolved lazily, so ``unetzoo --help`` does not load the server.
"""

from __future__ import annotations

from unetzoo.utils.lazy import lazy_attributes

_EXPORTS = {
    "serve": "unetzoo.serve.server",
    "UnetzooServer": "unetzoo.serve.server",
    "App": "unetzoo.serve.app",
    "ServeConfig": "unetzoo.serve.config",
    "ServedModel": "unetzoo.serve.model",
    "load_model": "unetzoo.serve.model",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_attributes(__name__, _EXPORTS)
