"""The OpenAPI 3.1 description of the service, published at ``/openapi.json``.

Built from the model card so that the limits and the model in the description are those of the running server.
"""

from __future__ import annotations

from typing import Any

from unetzoo import __version__

IMAGE_TYPES = ("image/png", "image/jpeg", "image/tiff", "image/bmp", "image/gif")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "stable code, e.g. too_many_pixels, upload_too_large, busy"},
            "message": {"type": "string", "description": "one line: what is wrong and the fix"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "model", "in_flight", "concurrency"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "model": {"type": "string"},
            "in_flight": {"type": "integer", "minimum": 0},
            "concurrency": {"type": "integer", "minimum": 1},
        },
    },
    "InputConstraints": {
        "type": "object",
        "required": ["channels", "formats", "max_upload_bytes", "max_pixels", "concurrency", "any_size"],
        "properties": {
            "channels": {"type": "integer", "minimum": 1},
            "formats": {"type": "array", "items": {"type": "string"}},
            "max_upload_bytes": {"type": "integer", "minimum": 1},
            "max_pixels": {"type": "integer", "minimum": 1},
            "concurrency": {"type": "integer", "minimum": 1},
            "any_size": {"type": "boolean"},
            "note": {"type": "string"},
        },
    },
    "ModelCard": {
        "type": "object",
        "required": ["model", "engine", "classes", "class_names", "in_channels", "threshold", "metrics", "input"],
        "properties": {
            "model": {"type": "string"},
            "preset": _nullable("string"),
            "engine": {"type": "string", "enum": ["torch", "onnxruntime"]},
            "file": {"type": "string", "description": "file name only, never a path"},
            "params": _nullable("integer"),
            "gmacs": _nullable("number"),
            "classes": {"type": "integer", "minimum": 1},
            "class_names": {"type": "array", "items": {"type": "string"}},
            "in_channels": {"type": "integer", "minimum": 1},
            "threshold": {"type": "number"},
            "input_multiple": _nullable("integer"),
            "preprocess": _nullable("object"),
            "metrics": {"type": "object", "description": "validation metrics of the checkpoint (val_*, epoch)"},
            "int8": {"type": "boolean"},
            "sha256": _nullable("string"),
            "unetzoo_version": _nullable("string"),
            "instances": {
                "type": ["object", "null"],
                "description": "an instance model's head and post-processing (--task instances), else null",
            },
            "input": _ref("InputConstraints"),
        },
    },
    "RLE": {
        "type": "object",
        "description": "COCO uncompressed RLE: column-major run lengths of the mask, starting with background",
        "required": ["size", "counts"],
        "properties": {
            "size": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            "counts": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        },
    },
    "ClassStatistics": {
        "type": "object",
        "required": ["id", "name", "pixels", "percent"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "pixels": {"type": "integer", "minimum": 0},
            "percent": {"type": "number", "minimum": 0, "maximum": 100},
            "mask": _ref("RLE"),
        },
    },
    "SegmentResult": {
        "type": "object",
        "required": [
            "model",
            "threshold",
            "width",
            "height",
            "pixels",
            "foreground_pixels",
            "foreground_percent",
            "classes",
            "mask",
        ],
        "properties": {
            "model": {"type": "string"},
            "threshold": {"type": "number"},
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "pixels": {"type": "integer", "minimum": 1},
            "foreground_pixels": {"type": "integer", "minimum": 0},
            "foreground_percent": {"type": "number", "minimum": 0, "maximum": 100},
            "classes": {"type": "array", "items": _ref("ClassStatistics")},
            "mask": _ref("RLE"),
            "object_count": {"type": "integer", "minimum": 0, "description": "an instance model's objects"},
        },
    },
    "ObjectTable": {
        "type": "object",
        "description": "format=objects: one row per object (label, area, centroid, bbox, mean intensity, eccentricity)",
        "required": ["object_count", "objects"],
        "properties": {
            "object_count": {"type": "integer", "minimum": 0},
            "objects": {"type": "array", "items": {"type": "object"}},
        },
    },
}

SEGMENT_FORMATS = ("png", "json", "labels", "objects")
"""``/api/segment?format=``: the mask PNG, JSON with RLE masks, the object label PNG, the object table."""

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "contentMediaType": "application/octet-stream"}},
            },
            "encoding": {"image": {"contentType": ", ".join(IMAGE_TYPES)}},
        }
    },
}

_UPLOAD_ERRORS = {
    "400": _error("malformed multipart body, no single 'image' field, or a bad query value"),
    "411": _error("no Content-Length"),
    "413": _error("upload over the size limit"),
    "415": _error("body is not multipart/form-data"),
    "422": _error("not a supported image (sniffed from its bytes), too many pixels, unreadable, or wrong channels"),
    "429": _error(
        "the server is processing its maximum of images; retry", {"Retry-After": {"schema": {"type": "integer"}}}
    ),
    "500": _error("unexpected server failure"),
}

_STAT_HEADERS = {
    name: {"schema": {"type": kind}, "description": text, "required": name != "X-Object-Count"}
    for name, kind, text in (
        ("X-Image-Width", "integer", "image width in pixels"),
        ("X-Image-Height", "integer", "image height in pixels"),
        ("X-Foreground-Pixels", "integer", "pixels of any non-background class"),
        ("X-Foreground-Percent", "number", "foreground share of the image, in percent"),
        ("X-Object-Count", "integer", "objects found (formats labels and objects, and any instance model)"),
    )
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_schema(card: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document for a server with this model card (including its ``input`` constraints)."""
    limits = card["input"]
    description = (
        f"Segmentation with {card['model']} ({card['engine']}), {card['in_channels']}-channel input. "
        f"Uploads: {', '.join(limits['formats'])}, sniffed from content; at most {limits['max_upload_bytes']:,} "
        f"bytes and {limits['max_pixels']:,} pixels; {limits['concurrency']} processed at once (429 beyond)."
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "unetzoo serve", "version": __version__, "description": description},
        "paths": {
            "/": {
                "get": {
                    "operationId": "page",
                    "summary": "the web page (works offline: every asset is served by this server)",
                    "responses": {
                        "200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "liveness and load",
                    "responses": {"200": _json("the server is up", _ref("Health"))},
                }
            },
            "/api/model": {
                "get": {
                    "operationId": "model_card",
                    "summary": "the model card and input constraints",
                    "responses": {"200": _json("model card", _ref("ModelCard"))},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "this document",
                    "responses": {"200": _json("OpenAPI document", {"type": "object"})},
                }
            },
            "/api/segment": {
                "post": {
                    "operationId": "segment",
                    "summary": "segment one image",
                    "description": "Mask PNG (0/255 binary, class ids multi-class), JSON with format=json, the object "
                    "label PNG (uint16, 0 = background; an instance model's objects, else the mask's connected "
                    "components) with format=labels, the per-object table with format=objects.",
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": list(SEGMENT_FORMATS), "default": "png"},
                        }
                    ],
                    "requestBody": _UPLOAD_BODY,
                    "responses": {
                        "200": {
                            "description": "the mask; the X-* headers carry the statistics in both formats",
                            "headers": _STAT_HEADERS,
                            "content": {
                                "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                                "application/json": {"schema": {"oneOf": [_ref("SegmentResult"), _ref("ObjectTable")]}},
                            },
                        },
                        **_UPLOAD_ERRORS,
                    },
                }
            },
            "/api/preview": {
                "post": {
                    "operationId": "preview",
                    "summary": "an 8-bit PNG view of an image (for TIFF or 16-bit files a browser cannot show)",
                    "requestBody": _UPLOAD_BODY,
                    "responses": {
                        "200": {
                            "description": "8-bit gray or RGB PNG",
                            "content": {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}},
                        },
                        **_UPLOAD_ERRORS,
                    },
                }
            },
        },
        "components": {"schemas": SCHEMAS},
    }
