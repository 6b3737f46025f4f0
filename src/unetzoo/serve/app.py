"""Routes and limits of the service, independent of the socket layer (see :mod:`unetzoo.serve.server`).

=======  ====================  ====================================================================
GET      ``/``                 the page (``static/index.html``; its script and style under ``/static/``)
GET      ``/healthz``          liveness plus requests in flight
GET      ``/api/model``        the model card with this server's input constraints
GET      ``/openapi.json``     the OpenAPI 3 schema of this API
POST     ``/api/segment``      multipart field ``image`` -> mask PNG, or JSON (RLE + statistics) with ``?format=json``;
                               objects: ``?format=labels`` (uint16 label PNG), ``?format=objects`` (count and table)
POST     ``/api/preview``      multipart field ``image`` -> 8-bit PNG view (for TIFF/16-bit files browsers cannot show)
=======  ====================  ====================================================================

Errors are JSON ``{"error": code, "message": one line}``. Static files are read once from the package at start-up
and looked up by exact route, so no path from a client ever reaches the file system.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.engine.predict import labels_from_probabilities
from unetzoo.errors import UnetzooError
from unetzoo.instances.measure import object_table
from unetzoo.serve.config import MiB, ServeConfig
from unetzoo.serve.errors import ApiError
from unetzoo.serve.imaging import (
    ACCEPTED_FORMATS,
    decode_upload,
    encode_png,
    mask_image,
    preview_image,
    rle_encode,
    statistics,
)
from unetzoo.serve.model import ServedModel
from unetzoo.serve.multipart import parse_multipart
from unetzoo.serve.openapi import SEGMENT_FORMATS, openapi_schema

STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class Request:
    """A parsed request: ``query`` from the URL, the ``Content-Type`` header and the (size-checked) body."""

    query: dict[str, list[str]]
    content_type: str | None = None
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """What the socket layer writes: status, body, type and extra headers."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Strict JSON (no NaN) in UTF-8."""
    body = json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers or {})


def error_response(error: ApiError) -> Response:
    return json_response({"error": error.code, "message": error.message}, error.status, error.headers)


@dataclass(frozen=True)
class Route:
    """A handler; ``upload`` routes take a body and count against the concurrency limit."""

    handler: Callable[[Request], Response]
    upload: bool = False


class Slots:
    """A non-blocking counter of uploads in flight: :meth:`try_acquire` fails instead of queueing."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_acquire(self) -> bool:
        with self._lock:
            if self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _safe_stem(filename: str | None) -> str:
    """The client's file name reduced to a harmless stem for Content-Disposition (display only)."""
    stem = Path((filename or "image").replace("\\", "/")).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "image"


def _static_files() -> dict[str, tuple[bytes, str]]:
    root = resources.files("unetzoo.serve") / "static"
    return {
        name: ((root / name).read_bytes(), STATIC_TYPES[os.path.splitext(name)[1]])
        for name in ("index.html", "app.js", "style.css")
    }


class App:
    """The service: a model, its limits and a private work folder for decoding uploads.

    Args:
        model: the :class:`~unetzoo.serve.model.ServedModel` to serve.
        config: limits.
        workdir: an existing private temporary folder; uploads are decoded from files inside it only.
    """

    def __init__(self, model: ServedModel, config: ServeConfig, workdir: Path) -> None:
        self.model = model
        self.config = config
        self.workdir = workdir
        self.slots = Slots(config.concurrency)
        self._workers = threading.Semaphore(config.workers)
        self.card = {**model.card, "input": self._constraints()}
        self.schema = openapi_schema(self.card)
        static = _static_files()
        self.routes: dict[str, dict[str, Route]] = {
            "/": {"GET": Route(lambda r: Response(200, *static["index.html"]))},
            "/static/app.js": {"GET": Route(lambda r: Response(200, *static["app.js"]))},
            "/static/style.css": {"GET": Route(lambda r: Response(200, *static["style.css"]))},
            "/healthz": {"GET": Route(self.health)},
            "/api/model": {"GET": Route(lambda r: json_response(self.card))},
            "/openapi.json": {"GET": Route(lambda r: json_response(self.schema))},
            "/api/segment": {"POST": Route(self.segment, upload=True)},
            "/api/preview": {"POST": Route(self.preview, upload=True)},
        }

    def _constraints(self) -> dict[str, Any]:
        return {
            "channels": self.model.in_channels,
            "formats": list(ACCEPTED_FORMATS),
            "max_upload_bytes": self.config.max_upload_bytes,
            "max_pixels": self.config.max_pixels,
            "concurrency": self.config.concurrency,
            "any_size": True,
            "note": "any height and width (tiled and mirror-padded)"
            + "; channels convert as in training: gray replicated for an RGB model, colour to its luma for a gray"
            " model, alpha dropped",
        }

    # -- dispatch -------------------------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> Route:
        """The route for ``method path``; 404 for an unknown path, 405 (with ``Allow``) for a wrong method."""
        methods = self.routes.get(path)
        if methods is None:
            raise ApiError(404, "not_found", f"no such endpoint {path!r}; see /openapi.json")
        if method not in methods:
            allow = ", ".join(sorted(methods))
            raise ApiError(405, "method_not_allowed", f"{path} accepts {allow}", {"Allow": allow})
        return methods[method]

    @staticmethod
    def handle(route: Route, request: Request) -> Response:
        """Run a handler; an :class:`ApiError` becomes its JSON error response, anything else a logged 500."""
        try:
            return route.handler(request)
        except ApiError as exc:
            return error_response(exc)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return error_response(ApiError(500, "internal_error", "the server failed on this request; see its log"))

    # -- handlers -------------------------------------------------------------------------------------
    def health(self, request: Request) -> Response:
        return json_response(
            {
                "status": "ok",
                "model": self.card["model"],
                "in_flight": self.slots.in_flight,
                "concurrency": self.config.concurrency,
            }
        )

    def _image(self, request: Request) -> tuple[np.ndarray, str]:
        """The decoded ``image`` field of a multipart body and a safe display stem of its name."""
        parts = [p for p in parse_multipart(request.body, request.content_type) if p.name == "image"]
        if len(parts) != 1:
            raise ApiError(400, "missing_image", "send exactly one multipart form field named 'image'")
        part = parts[0]
        if len(part.data) > self.config.max_upload_bytes:
            raise self.too_large(len(part.data))
        if not part.data:
            raise ApiError(422, "unreadable_image", "the uploaded image is empty (0 bytes)")
        stem = _safe_stem(part.filename)
        return decode_upload(part.data, self.workdir, self.config.max_pixels, stem), stem

    def too_large(self, size: int) -> ApiError:
        limit = self.config.max_upload_bytes
        return ApiError(
            413,
            "upload_too_large",
            f"upload of {size:,} bytes is over this server's {limit:,}-byte limit ({limit / MiB:g} MiB); "
            "send a smaller file or start the server with a larger --max-upload-mb",
        )

    def _probabilities(self, image: np.ndarray, stem: str) -> np.ndarray:
        try:
            with self._workers:
                return np.asarray((self.model.objects or self.model.segmenter).probabilities(image, stem), np.float32)
        except UnetzooError as exc:
            raise ApiError(422, "unprocessable_image", str(exc)) from None

    def _objects(self, probs: np.ndarray) -> np.ndarray:
        """Object labels: the instance head's (``--task instances``) or the mask's connected components."""
        assert self.model.objects is not None
        labels = self.model.objects.decode(probs)
        if labels.max(initial=0) > np.iinfo(np.uint16).max:
            raise ApiError(422, "too_many_objects", f"{labels.max()} objects do not fit a uint16 label image")
        return labels.astype(np.uint16)

    def segment(self, request: Request) -> Response:
        fmt = (request.query.get("format") or ["png"])[-1]
        if fmt not in SEGMENT_FORMATS:
            raise ApiError(
                400, "bad_format", f"format={fmt!r} is not supported; use format={' or format='.join(SEGMENT_FORMATS)}"
            )
        image, stem = self._image(request)
        probs = self._probabilities(image, stem)
        labels = labels_from_probabilities(probs, self.model.segmenter.threshold)
        stats = statistics(labels, self.model.class_names, self.model.classes)
        headers = {
            "X-Image-Width": str(stats["width"]),
            "X-Image-Height": str(stats["height"]),
            "X-Foreground-Pixels": str(stats["foreground_pixels"]),
            "X-Foreground-Percent": str(stats["foreground_percent"]),
        }
        objects = self._objects(probs) if fmt in ("labels", "objects") or self.model.instance_model else None
        if objects is not None:
            headers["X-Object-Count"] = str(len(np.unique(objects)) - 1)
        if fmt == "labels":
            headers["Content-Disposition"] = f'attachment; filename="{stem}_labels.png"'
            return Response(200, encode_png(objects), "image/png", headers)
        if fmt == "objects":
            table = object_table(objects, image)
            return json_response({"object_count": len(table), "objects": table}, headers=headers)
        if fmt == "json":
            result: dict[str, Any] = {"model": self.card["model"], "threshold": self.model.segmenter.threshold}
            result.update(stats, mask=rle_encode(labels > 0))
            if self.model.classes > 1:
                for entry in result["classes"]:
                    entry["mask"] = rle_encode(labels == entry["id"])
            if objects is not None:
                result["object_count"] = int(headers["X-Object-Count"])
            return json_response(result, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{stem}_mask.png"'
        return Response(200, encode_png(mask_image(labels, self.model.classes)), "image/png", headers)

    def preview(self, request: Request) -> Response:
        image, _ = self._image(request)
        return Response(200, encode_png(preview_image(image)), "image/png")
