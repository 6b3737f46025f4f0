"""The HTTP API on real ISBI slices and synthetic images: results, model card, limits and safety."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
from servekit import call, decode_png, gray_image, multipart, png_bytes, rle_decode, running_server, tiff_bytes, upload

from unetzoo import count_params
from unetzoo.data.io import MAX_PIXELS, read_image
from unetzoo.engine.predict import labels_from_probabilities
from unetzoo.serve.config import ServeConfig
from unetzoo.serve.model import ServedModel, load_model
from unetzoo.serve.server import UnetzooServer


@pytest.fixture(scope="module")
def server(model: ServedModel) -> Iterator[UnetzooServer]:
    with running_server(model) as s:
        yield s


def expected_mask(model: ServedModel, image: np.ndarray) -> np.ndarray:
    probs = np.asarray(model.segmenter.probabilities(image), dtype=np.float32)
    return labels_from_probabilities(probs, model.segmenter.threshold).astype(np.uint8) * 255


# -- results --------------------------------------------------------------------------------------------------
def test_isbi_slice_png_and_json_agree_with_the_engine(server: UnetzooServer, model: ServedModel, isbi_slice: Path):
    data = isbi_slice.read_bytes()
    reply = upload(server.url, data, "00.png")
    assert reply.status == 200 and reply.headers["content-type"] == "image/png"
    mask = decode_png(reply.body)
    image = read_image(isbi_slice)
    assert mask.shape == image.shape == (512, 512) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, expected_mask(model, image))
    assert 0 < np.count_nonzero(mask) < mask.size  # both classes present
    assert reply.headers["x-foreground-pixels"] == str(np.count_nonzero(mask))
    assert (reply.headers["x-image-width"], reply.headers["x-image-height"]) == ("512", "512")
    assert reply.headers["content-disposition"] == 'attachment; filename="00_mask.png"'

    result = upload(server.url, data, "00.png", "?format=json").json()
    np.testing.assert_array_equal(rle_decode(result["mask"]), mask > 0)
    fg = int(np.count_nonzero(mask))
    assert result["foreground_pixels"] == fg and result["pixels"] == 512 * 512
    assert result["foreground_percent"] == pytest.approx(100 * fg / mask.size, abs=1e-4)
    assert result["classes"] == [{"id": 1, "name": "cell", "pixels": fg, "percent": result["foreground_percent"]}]
    assert result["threshold"] == model.segmenter.threshold


def test_any_size_tiff_16bit_and_gray_stored_as_rgb(server: UnetzooServer, model: ServedModel, shared_data: Path):
    image = read_image(shared_data / "isbi2012" / "images" / "01.png")[:77, :133]
    want = expected_mask(model, image)
    as_tiff16 = image.astype(np.uint16) * 257  # same pixels after z-score normalisation
    reply = upload(server.url, tiff_bytes(as_tiff16), "slice.tif")
    assert reply.status == 200, reply.body
    np.testing.assert_array_equal(decode_png(reply.body), expected_mask(model, as_tiff16))
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    reply = upload(server.url, png_bytes(rgb), "slice_rgb.png")
    assert reply.status == 200, reply.body
    np.testing.assert_array_equal(decode_png(reply.body), want)


def test_two_channel_image_for_a_gray_model_is_422(server: UnetzooServer):
    buffer = io.BytesIO()
    two = np.stack([gray_image(32, 32, seed=s) for s in range(2)], axis=2)
    tifffile.imwrite(buffer, two, photometric="minisblack", planarconfig="contig")
    reply = upload(server.url, buffer.getvalue(), "two.tif")
    assert reply.status == 422
    body = reply.json()
    assert body["error"] == "unprocessable_image" and "has 2 channel(s) but the model expects 1" in body["message"]
    assert "\n" not in body["message"]


def test_colour_image_for_a_gray_model_is_segmented_as_its_luma(server: UnetzooServer):
    rgb = np.stack([gray_image(32, 32, seed=s) for s in range(3)], axis=2)
    luma = (rgb @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)  # Pillow's RGB -> L
    colour, gray = (upload(server.url, png_bytes(image), "x.png") for image in (rgb, luma))
    assert colour.status == gray.status == 200
    assert (decode_png(colour.body) != decode_png(gray.body)).mean() < 0.01  # luma differs by rounding only


def test_preview_is_an_8bit_view(server: UnetzooServer):
    image = (gray_image(40, 50).astype(np.uint16) * 200).astype(np.uint16)
    reply = upload(server.url, tiff_bytes(image), "x.tif", path="/api/preview")
    assert reply.status == 200 and reply.headers["content-type"] == "image/png"
    view = decode_png(reply.body)
    assert view.shape == (40, 50) and view.dtype == np.uint8 and view.max() == 255


# -- model card and the small endpoints ------------------------------------------------------------------------
def test_model_card_and_health(server: UnetzooServer, model: ServedModel, checkpoint: Path):
    card = call(server.url, path="/api/model").json()
    assert card["model"] == "ulite" and card["engine"] == "torch" and card["file"] == "best.pt"
    assert card["params"] == count_params(model.segmenter.model)
    assert card["in_channels"] == 1 and card["classes"] == 1 and card["class_names"] == ["membrane", "cell"]
    assert card["metrics"]["epoch"] == 1 and 0 <= card["metrics"]["val_dice"] <= 1
    assert card["input"]["max_pixels"] == ServeConfig().max_pixels and card["input"]["channels"] == 1
    assert str(checkpoint.parent) not in json.dumps(card)  # no server paths leak
    health = call(server.url, path="/healthz").json()
    assert health == {"status": "ok", "model": "ulite", "in_flight": 0, "concurrency": 4}


def test_page_and_assets_are_served_locally(server: UnetzooServer):
    page = call(server.url, path="/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "/static/app.js" in html and "/static/style.css" in html and "http" not in html.replace("http-equiv", "")
    for asset, kind in (("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        reply = call(server.url, path=asset)
        assert reply.status == 200 and reply.headers["content-type"].startswith(kind)
        assert b"https://" not in reply.body and b"http://" not in reply.body  # no CDN
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, "not_found"),
        ("GET", "/static/../app.py", 404, "not_found"),
        ("GET", "/static/%2e%2e/app.py", 404, "not_found"),
        ("DELETE", "/api/model", 405, "method_not_allowed"),
        ("GET", "/api/segment", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods(server: UnetzooServer, method: str, path: str, status: int, code: str):
    reply = call(server.url, method, path)
    assert reply.status == status and reply.json()["error"] == code


def test_loopback_server_refuses_other_host_names(server: UnetzooServer):
    reply = call(server.url, path="/healthz", headers={"Host": "attacker.example:8000"})
    assert reply.status == 421 and reply.json()["error"] == "wrong_host"
    assert call(server.url, path="/healthz", headers={"Host": "localhost"}).status == 200


# -- bad uploads ------------------------------------------------------------------------------------------------
def test_content_is_sniffed_not_trusted_by_name(server: UnetzooServer, isbi_slice: Path):
    reply = upload(server.url, isbi_slice.read_bytes(), "looks_like.jpg")  # a PNG named .jpg is still a PNG
    assert reply.status == 200
    reply = upload(server.url, b"%PDF-1.7 not an image" * 10, "scan.png")
    assert reply.status == 422 and reply.json()["error"] == "unsupported_format"
    truncated = isbi_slice.read_bytes()[:2000]
    reply = upload(server.url, truncated, "cut.png")
    body = reply.json()
    assert reply.status == 422 and body["error"] == "unreadable_image" and body["message"].startswith("cut:")
    assert tempfile.gettempdir() not in body["message"]  # the server's own file name is not shown


@pytest.mark.parametrize(
    ("fields", "query", "status", "code"),
    [
        ([("file", "a.png", b"x", None)], "", 400, "missing_image"),
        ([("image", "a.png", b"x", None), ("image", "b.png", b"y", None)], "", 400, "missing_image"),
        ([("image", "a.png", b"", None)], "", 422, "unreadable_image"),
        ([("image", "a.png", b"x", None)], "?format=jpeg", 400, "bad_format"),
    ],
)
def test_bad_forms(server: UnetzooServer, fields: list, query: str, status: int, code: str):
    body, ctype = multipart(*fields)
    reply = call(server.url, "POST", "/api/segment" + query, body, {"Content-Type": ctype})
    assert reply.status == status and reply.json()["error"] == code


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"abc", "application/octet-stream", 415, "unsupported_media_type"),
        (b"abc", None, 415, "unsupported_media_type"),
        (b"no boundary here", "multipart/form-data; boundary=xyz", 400, "bad_multipart"),
        (
            b"--xyz\r\nContent-Disposition: form-data; name=image\r\n\r\nabc",
            "multipart/form-data; boundary=xyz",
            400,
            "bad_multipart",
        ),
        (b"abc", "multipart/form-data", 400, "bad_multipart"),
    ],
)
def test_malformed_bodies(server: UnetzooServer, body: bytes, ctype: str | None, status: int, code: str):
    headers = {"Content-Type": ctype} if ctype else {}
    reply = call(server.url, "POST", "/api/segment", body, headers)
    assert reply.status == status and reply.json()["error"] == code


def test_upload_size_limit_is_413_and_connection_survives(model: ServedModel, isbi_slice: Path):
    data = isbi_slice.read_bytes()
    config = ServeConfig(max_upload_bytes=len(data) - 1)
    with running_server(model, config) as s:
        host, port = s.server_address[:2]
        conn = http.client.HTTPConnection(host, port, timeout=30)
        body, ctype = multipart(("image", "00.png", data, "image/png"))
        reply = call(s.url, "POST", "/api/segment", body, {"Content-Type": ctype}, connection=conn)
        assert reply.status == 413
        message = reply.json()["message"]
        assert reply.json()["error"] == "upload_too_large" and f"{len(data):,} bytes" in message
        assert call(s.url, path="/healthz", connection=conn).status == 200  # same keep-alive connection
        big = b"\0" * (config.max_upload_bytes + 200_000)  # rejected from Content-Length, before reading
        reply = call(s.url, "POST", "/api/segment", big, {"Content-Type": ctype})
        assert reply.status == 413
        conn.close()


def test_pixel_limit_is_422_before_decoding(model: ServedModel, isbi_slice: Path):
    with running_server(model, ServeConfig(max_pixels=256 * 256)) as s:
        reply = upload(s.url, isbi_slice.read_bytes(), "00.png")
        assert reply.status == 422 and reply.json()["error"] == "too_many_pixels"
        assert "512x512" in reply.json()["message"] and "65,536-pixel limit" in reply.json()["message"]
        # 2 kB PNGs whose headers claim more than the decompression-bomb guard of every reader (67,108,864 pixels,
        # Pillow's own past 89,478,485): refused from the header alone, naming the one limit the page shows
        for height, width in ((9000, 9000), (60000, 60000)):
            t0 = time.perf_counter()
            reply = upload(s.url, png_claiming(height, width), "bomb.png")
            assert reply.status == 422 and reply.json()["error"] == "too_many_pixels"
            assert time.perf_counter() - t0 < 2
            message = reply.json()["message"]
            assert message.startswith("bomb: ") and "over this server's 65,536-pixel limit" in message
            assert f"{MAX_PIXELS:,}-pixel limit" not in message and "decompression" not in message
            assert str(height * width) in message.replace(",", "") or f"{height}x{width}" in message


def png_claiming(height: int, width: int) -> bytes:
    """A small PNG whose IHDR claims ``height`` x ``width`` pixels (the pixel data is a tiny image's)."""
    import struct
    import zlib

    data = bytearray(png_bytes(np.zeros((8, 8), np.uint8)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def raw_request(s: UnetzooServer, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(s.server_address[:2], timeout=30)
    sock.sendall(head.encode() + body)
    return sock


def read_status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_concurrency_limit_is_429_with_retry_after(model: ServedModel, isbi_slice: Path):
    data = isbi_slice.read_bytes()
    body, ctype = multipart(("image", "00.png", data, "image/png"))
    with running_server(model, ServeConfig(concurrency=1)) as s:
        head = (
            f"POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        slow = raw_request(s, head, body[:1000])  # holds the only slot while its body trickles in
        deadline = time.monotonic() + 10
        while call(s.url, path="/healthz").json()["in_flight"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        reply = upload(s.url, data, "00.png")
        assert reply.status == 429 and reply.headers["retry-after"] == "1"
        assert reply.json()["error"] == "busy"
        slow.sendall(body[1000:])
        status, _ = read_status(slow)
        slow.close()
        assert status == 200
        assert upload(s.url, data, "00.png").status == 200  # the slot was released


def test_length_required_for_uploads(server: UnetzooServer):
    sock = raw_request(
        server,
        "POST /api/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n",
        b"0\r\n\r\n",
    )
    status, _ = read_status(sock)
    sock.close()
    assert status == 411


# -- the file system -------------------------------------------------------------------------------------------
def test_client_file_names_never_reach_the_disk(model: ServedModel, isbi_slice: Path, tmp_path: Path):
    names = ["../../../../tmp/evil.png", "..\\..\\evil.png", "/etc/passwd", 'a";b.png', "\x00.png"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with running_server(model) as s:
            workdir = s.app.workdir
            assert workdir.parent == Path(tempfile.gettempdir())
            for name in names:
                reply = upload(s.url, isbi_slice.read_bytes(), name)
                assert reply.status == 200
                disposition = reply.headers["content-disposition"]
                filename = disposition.split('filename="', 1)[1].rstrip('"')
                assert "/" not in filename and "\\" not in filename and '"' not in filename
                assert not filename.startswith(".")
            assert list(workdir.iterdir()) == []  # uploads are deleted after decoding
        assert not workdir.exists()  # the server's temp folder goes with the server
    finally:
        os.chdir(cwd)
    assert list(tmp_path.iterdir()) == []
    assert not Path(tempfile.gettempdir(), "evil.png").exists()


# -- the ONNX engine ----------------------------------------------------------------------------------------------
def test_onnx_model_serves_the_same_masks(onnx_file: Path, threshold: float, model: ServedModel, isbi_slice: Path):
    onnx_model = load_model(onnx_file, threshold=threshold)
    assert onnx_model.card["engine"] == "onnxruntime" and onnx_model.card["sha256"]
    data = isbi_slice.read_bytes()
    with running_server(onnx_model) as s:
        card = call(s.url, path="/api/model").json()
        assert card["file"] == "tiny.onnx" and card["params"] == model.card["params"]
        onnx_mask = decode_png(upload(s.url, data).body)
    with running_server(model) as s:
        torch_mask = decode_png(upload(s.url, data).body)
    assert np.mean(onnx_mask != torch_mask) < 0.01  # only pixels at the threshold may differ
