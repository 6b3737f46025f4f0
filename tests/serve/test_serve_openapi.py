"""The published OpenAPI schema against the running server (a bounded, Schemathesis-style run with Hypothesis).

Requests are generated from the schema (operations, query parameters, multipart fields), with valid and broken
images; every response must be documented for its operation (status and content type), JSON bodies must match
their schema, and no request may cause a server error.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemacheck import validate
from servekit import Reply, call, decode_png, gray_image, multipart, png_bytes, running_server, tiff_bytes

from unetzoo.serve.model import ServedModel
from unetzoo.serve.server import UnetzooServer

FUZZ_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def server(model: ServedModel) -> Iterator[UnetzooServer]:
    with running_server(model) as s:
        yield s


@pytest.fixture(scope="module")
def schema(server: UnetzooServer) -> dict[str, Any]:
    return call(server.url, path="/openapi.json").json()


def pil_bytes(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@st.composite
def image_files(draw: st.DrawFn) -> bytes:
    """Valid images of every accepted format and size 1..40 px, colour images, and broken files."""
    h, w, seed = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(0, 99))
    gray = gray_image(h, w, seed)
    kind = draw(st.sampled_from(["png", "tiff16", "jpeg", "bmp", "gif", "rgb", "random", "magic", "cut"]))
    if kind == "png":
        return png_bytes(gray)
    if kind == "tiff16":
        return tiff_bytes(gray.astype(np.uint16) * 3)
    if kind in ("jpeg", "bmp", "gif"):
        return pil_bytes(gray, kind.upper())
    if kind == "rgb":
        return png_bytes(np.stack([gray, gray[::-1], gray[:, ::-1]], axis=2))
    if kind == "cut":
        data = png_bytes(gray)
        return data[: draw(st.integers(0, len(data) - 1))]
    noise = draw(st.binary(max_size=200))
    return (
        (draw(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"II*\x00", b"\xff\xd8\xff", b"GIF89a"])) + noise)
        if (kind == "magic")
        else noise
    )


@st.composite
def schema_requests(draw: st.DrawFn, schema: dict[str, Any]) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, path with query, body, headers) for an operation of ``schema``."""
    path = draw(st.sampled_from(sorted(schema["paths"])))
    method = draw(st.sampled_from(sorted(schema["paths"][path])))
    operation = schema["paths"][path][method]
    query = {}
    for param in operation.get("parameters", []):
        if param["in"] == "query" and draw(st.booleans()):
            enum = param["schema"].get("enum")
            valid = enum and draw(st.integers(0, 3)) > 0
            query[param["name"]] = draw(
                st.sampled_from(enum) if valid else st.text(string.ascii_letters + string.digits + "%&=/.", max_size=8)
            )
    target = path + (f"?{urlencode(query)}" if query else "")
    if "requestBody" not in operation:
        return method.upper(), target, None, {}
    fields = []
    multipart_schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    for name in multipart_schema["properties"]:
        if draw(st.integers(0, 9)) > 0:  # mostly present
            fields.append((name, draw(st.sampled_from(["a.png", "x.tif", "../n", None])), draw(image_files()), None))
    if draw(st.integers(0, 9)) == 0:
        fields.append(("extra", None, draw(st.binary(max_size=20)), None))
    body, ctype = multipart(*fields)
    if draw(st.integers(0, 9)) == 0:
        ctype = draw(st.sampled_from(["application/octet-stream", "text/plain", "multipart/form-data"]))
    return method.upper(), target, body, {"Content-Type": ctype}


def check_conformance(schema: dict[str, Any], method: str, target: str, reply: Reply) -> None:
    """The response is documented for this operation and matches its schema; never a server error."""
    operation = schema["paths"][target.split("?")[0]][method.lower()]
    assert reply.status < 500, reply.body
    documented = operation["responses"]
    assert str(reply.status) in documented, f"{method} {target}: undocumented status {reply.status}: {reply.body!r}"
    response = documented[str(reply.status)]
    ctype = reply.headers["content-type"].split(";")[0]
    assert ctype in response["content"], f"{method} {target} {reply.status}: undocumented type {ctype}"
    for header, spec in response.get("headers", {}).items():
        if spec.get("required", True):
            assert header.lower() in reply.headers, f"{method} {target}: missing documented header {header}"
    if ctype == "application/json":
        errors = validate(reply.json(), response["content"][ctype]["schema"], schema)
        assert not errors, errors
    elif ctype == "image/png":
        decode_png(reply.body)


def test_schema_is_well_formed(schema: dict[str, Any]):
    assert schema["openapi"].startswith("3.1") and schema["info"]["title"] == "unetzoo serve"
    operation_ids = [op["operationId"] for methods in schema["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    text = repr(schema)
    for ref in {part.split("'")[0] for part in text.split("'#/components/schemas/")[1:]}:
        assert ref in schema["components"]["schemas"], ref


@pytest.mark.parametrize("operation", ["health", "model_card", "openapi", "page", "segment", "preview"])
def test_every_operation_succeeds_on_a_valid_request(schema: dict[str, Any], server: UnetzooServer, operation: str):
    ops = {op["operationId"]: (path, method) for path, ms in schema["paths"].items() for method, op in ms.items()}
    path, method = ops[operation]
    body, headers = None, {}
    if method == "post":
        body, ctype = multipart(("image", "a.png", png_bytes(gray_image(24, 31)), "image/png"))
        headers = {"Content-Type": ctype}
    reply = call(server.url, method.upper(), path, body, headers)
    assert reply.status == 200
    check_conformance(schema, method.upper(), path, reply)


def test_undocumented_methods_are_405_with_allow(schema: dict[str, Any], server: UnetzooServer):
    for path, methods in schema["paths"].items():
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - {m.upper() for m in methods}:
            reply = call(server.url, method, path)
            assert reply.status == 405 and reply.headers["allow"] == ", ".join(sorted(m.upper() for m in methods))


@FUZZ_SETTINGS
@given(data=st.data())
def test_generated_requests_conform_to_the_schema(schema: dict[str, Any], server: UnetzooServer, data: st.DataObject):
    method, target, body, headers = data.draw(schema_requests(schema))
    reply = call(server.url, method, target, body, headers)
    event(f"{method} {target.split('?')[0]} -> {reply.status}")
    check_conformance(schema, method, target, reply)
