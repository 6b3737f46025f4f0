"""The small pieces: multipart parsing, sniffing, RLE, statistics, safe names, strict JSON of the card."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from servekit import multipart, png_bytes, rle_decode, tiff_bytes

from unetzoo.serve.app import _safe_stem
from unetzoo.serve.errors import ApiError
from unetzoo.serve.imaging import rle_encode, sniff, statistics
from unetzoo.serve.model import json_safe, validation_metrics
from unetzoo.serve.multipart import parse_multipart


def test_multipart_round_trip_keeps_binary_data_and_names():
    payload = b"\r\n--not-the-boundary\r\n\x00\xff" * 50
    body, ctype = multipart(("image", 'we"ird;name.png', payload, "image/png"), ("note", None, b"hi", None))
    parts = parse_multipart(b"preamble\r\n" + body, ctype)
    assert [p.name for p in parts] == ["image", "note"]
    assert parts[0].data == payload and parts[0].content_type == "image/png"
    assert parts[1].filename is None and parts[1].data == b"hi"


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ndata", "multipart/form-data; boundary=b", 400),
        (b"--b\r\nContent-Type: text/plain\r\n\r\ndata\r\n--b--", "multipart/form-data; boundary=b", 400),
        (b"--bXXjunk", "multipart/form-data; boundary=b", 400),
        (b"", "multipart/form-data; boundary=" + "x" * 71, 400),
        (b"", "text/plain", 415),
    ],
)
def test_multipart_errors(body: bytes, ctype: str, status: int):
    with pytest.raises(ApiError) as info:
        parse_multipart(body, ctype)
    assert info.value.status == status


def test_sniff_by_content():
    gray = np.zeros((4, 4), np.uint8)
    assert sniff(png_bytes(gray)) == ".png" and sniff(tiff_bytes(gray)) == ".tif"
    assert sniff(b"GIF89a...") == ".gif" and sniff(b"\xff\xd8\xff\xe0") == ".jpg" and sniff(b"BM..") == ".bmp"
    assert sniff(b"<svg") is None and sniff(b"") is None


@settings(max_examples=50, deadline=None, database=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_rle_round_trip(mask: np.ndarray):
    rle = rle_encode(mask)
    assert rle["size"] == list(mask.shape) and all(c >= 0 for c in rle["counts"])
    np.testing.assert_array_equal(rle_decode(rle), mask)


def test_statistics_of_a_multiclass_label_map():
    labels = np.array([[0, 1, 1], [2, 2, 2]], np.uint8)
    stats = statistics(labels, ("bg", "a", "b"), classes=3)
    assert stats["foreground_pixels"] == 5 and stats["foreground_percent"] == pytest.approx(83.3333)
    assert [(c["name"], c["pixels"]) for c in stats["classes"]] == [("a", 2), ("b", 3)]


@pytest.mark.parametrize(
    ("name", "stem"),
    [("../../etc/passwd", "passwd"), ("C:\\x\\scan 01.tif", "scan_01"), (None, "image"), ("...", "image")],
)
def test_safe_stem(name: str | None, stem: str):
    assert _safe_stem(name) == stem


def test_card_json_is_strict():
    card = json_safe({"a": math.nan, "b": [1.5, math.inf], "c": (1, "x")})
    assert card == {"a": None, "b": [1.5, None], "c": [1, "x"]}
    assert validation_metrics({"epoch": 3, "val_dice": 0.9, "train_loss": 1.0, "lr": 0.1}) == {
        "epoch": 3,
        "val_dice": 0.9,
    }
