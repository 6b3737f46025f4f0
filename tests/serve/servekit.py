"""Helpers of the serve tests: a server in a thread, a tiny HTTP client, multipart bodies, image bytes."""

from __future__ import annotations

import http.client
import io
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import tifffile
from PIL import Image

from unetzoo.serve.config import ServeConfig
from unetzoo.serve.model import ServedModel
from unetzoo.serve.server import UnetzooServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        import json

        assert self.headers["content-type"] == "application/json", self.headers
        return json.loads(self.body)


@contextmanager
def running_server(model: ServedModel, config: ServeConfig | None = None) -> Iterator[UnetzooServer]:
    """A server on a free loopback port, served from a daemon thread; closed (temp folder removed) on exit."""
    server = UnetzooServer(model, config or ServeConfig(), "127.0.0.1", 0, access_log=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def multipart(*fields: tuple[str, str | None, bytes, str | None]) -> tuple[bytes, str]:
    """Body and Content-Type of a multipart form; each field is (name, filename, data, content type)."""
    boundary = uuid.uuid4().hex
    chunks = []
    for name, filename, data, ctype in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        chunks += [head.encode(), b"\r\n", data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def call(
    url: str,
    method: str = "GET",
    path: str = "/",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Reply:
    """One request; pass ``connection`` to reuse a keep-alive connection."""
    parts = urlsplit(url)
    conn = connection or http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        if connection is None:
            conn.close()


def upload(url: str, data: bytes, filename: str = "image.png", query: str = "", path: str = "/api/segment") -> Reply:
    body, ctype = multipart(("image", filename, data, "application/octet-stream"))
    return call(url, "POST", path + query, body, {"Content-Type": ctype})


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def tiff_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def rle_decode(rle: dict) -> np.ndarray:
    """Inverse of COCO uncompressed RLE (column-major runs starting with background)."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    assert counts.sum() == h * w
    values = np.arange(len(counts)) % 2
    return np.repeat(values, counts).astype(bool).reshape((h, w), order="F")


def gray_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Membrane-like gray image: bright cells, dark smooth boundaries."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = 128 + 60 * np.sin(xx / 5.0 + seed) * np.cos(yy / 7.0) + rng.normal(0, 10, (height, width))
    return np.clip(img, 0, 255).astype(np.uint8)


NUCLEI = "synthetic:nuclei?n=8&size=64"
"""The data of the served instance model (``instance_model`` fixture)."""


def nuclei_png() -> bytes:
    """The first image of :data:`NUCLEI` as PNG bytes."""
    from unetzoo.data import open_source

    return png_bytes(np.clip(open_source(NUCLEI).load(0)[0], 0, 255).astype(np.uint8))
