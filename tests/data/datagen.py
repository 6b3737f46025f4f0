"""Helpers that build small (broken) images and datasets on disk for the data tests."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

MakeFolder = Callable[..., Path]
"""The ``make_folder`` fixture: ``make_folder(n=4, size=(32, 32), name="ds") -> root``."""


def save(path: Path, array: np.ndarray, **kwargs: object) -> Path:
    """Write ``array`` with Pillow (format from the extension), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def blob_mask(h: int, w: int, seed: int, value: int = 255) -> np.ndarray:
    """A binary mask with one random disc, values {0, value}."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx, r = rng.uniform(h / 4, 3 * h / 4), rng.uniform(w / 4, 3 * w / 4), rng.uniform(1, max(min(h, w) / 3, 1.5))
    return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).astype(np.uint8) * value


def gray_image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w), dtype=np.uint8)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` pixels (CRC fixed, so only the size is a lie)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: equal snapshots mean nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}
