"""Uploaded bytes in, arrays out, and masks back to bytes: sniffing, guarded decoding, PNG, RLE, statistics.

The container format is sniffed from the first bytes, never taken from the client's file name or Content-Type.
Decoding goes through :func:`unetzoo.data.io.read_image` (the pixel-limit guard checks the header before any pixel
is decoded) on a file the server names itself inside its own temporary folder.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from unetzoo.data.io import MAX_PIXELS, PixelLimitError, image_info, read_image
from unetzoo.errors import UnetzooError
from unetzoo.serve.errors import ApiError

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"II+\x00", ".tif"),  # BigTIFF
    (b"MM\x00+", ".tif"),
    (b"BM", ".bmp"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)
"""Magic bytes of the accepted containers and the extension the decoder expects for each."""

ACCEPTED_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "GIF")


def sniff(data: bytes) -> str | None:
    """The file extension matching the content's magic bytes, or None for anything else."""
    for magic, ext in SIGNATURES:
        if data.startswith(magic):
            return ext
    return None


def decode_upload(data: bytes, workdir: Path, max_pixels: int, display_name: str = "upload") -> np.ndarray:
    """Decode an uploaded image (``HxW`` or ``HxWxC``, native dtype) behind the server's pixel limit.

    The bytes go to a file named by the server (random name, sniffed extension) inside ``workdir``, which is removed
    again before returning. ``display_name`` is only used in error messages.

    Raises:
        ApiError: 422 ``unsupported_format`` (not a PNG/JPEG/TIFF/BMP/GIF), ``too_many_pixels`` or
            ``unreadable_image`` (corrupt, truncated, multi-frame, ...).
    """
    ext = sniff(data)
    if ext is None:
        raise ApiError(
            422,
            "unsupported_format",
            f"{display_name}: content is not a {', '.join(ACCEPTED_FORMATS)} image (checked from its bytes, "
            "not its name); export it as PNG or TIFF",
        )
    path = workdir / f"{uuid.uuid4().hex}{ext}"
    try:
        path.write_bytes(data)
        info = image_info(path)
        if info.height * info.width > max_pixels:
            size = f"{info.height}x{info.width} (HxW) = {info.height * info.width:,} pixels"
            raise over_pixel_limit(display_name, size, max_pixels)
        return read_image(path)
    except PixelLimitError as exc:  # over unetzoo's decompression-bomb guard, hence over this server's limit too
        raise over_pixel_limit(display_name, exc.size, max_pixels) from None
    except UnetzooError as exc:
        if isinstance(exc, ApiError):
            raise
        raise ApiError(422, "unreadable_image", str(exc).replace(str(path), display_name)) from None
    finally:
        path.unlink(missing_ok=True)


def over_pixel_limit(display_name: str, size: str, max_pixels: int) -> ApiError:
    """The 422 of an image over the server's ``--max-pixels``: it names that limit, the one the page and the model
    card show, even when the header claims more than :data:`MAX_PIXELS`, the decompression-bomb guard of every
    reader (which is never below ``--max-pixels``)."""
    larger = (
        f", or start the server with a larger --max-pixels (at most {MAX_PIXELS:,})" if max_pixels < MAX_PIXELS else ""
    )
    return ApiError(
        422,
        "too_many_pixels",
        f"{display_name}: {size} is over this server's {max_pixels:,}-pixel limit; downscale or crop the image{larger}",
    )


def encode_png(array: np.ndarray) -> bytes:
    """Lossless PNG bytes of an ``HxW`` uint8/uint16 or ``HxWx3`` uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def mask_image(labels: np.ndarray, classes: int) -> np.ndarray:
    """The mask as ``unetzoo predict`` writes it: 0/255 for a binary model, class ids for a multi-class one."""
    return (labels * 255 if classes == 1 else labels).astype(np.uint8)


def preview_image(image: np.ndarray) -> np.ndarray:
    """An 8-bit gray or RGB view of any image (percentile stretch), for browsers that cannot show the original."""
    img = image.astype(np.float32)
    if img.ndim == 3:
        img = img[:, :, :3] if img.shape[2] >= 3 else img[:, :, 0]
    lo, hi = np.percentile(img, (0.5, 99.5))
    return (np.clip((img - lo) / max(float(hi - lo), 1e-6), 0, 1) * 255).astype(np.uint8)


def rle_encode(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE of a boolean ``HxW`` mask: column-major run lengths, starting with background.

    Decode: ``flat = np.repeat([0, 1] * n, counts)[:h * w]``; ``mask = flat.reshape((h, w), order="F")``.
    """
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], change, [flat.size])))
    if flat[0]:
        counts = np.concatenate(([0], counts))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts.tolist()}


def statistics(labels: np.ndarray, class_names: tuple[str, ...], classes: int) -> dict[str, Any]:
    """Image size, foreground pixels and percent, and per-class pixel counts of a label map."""
    height, width = labels.shape
    total = height * width
    foreground = int(np.count_nonzero(labels))
    ids = [1] if classes == 1 else list(range(1, classes))
    per_class = []
    for k in ids:
        pixels = foreground if classes == 1 else int(np.count_nonzero(labels == k))
        name = class_names[k] if k < len(class_names) else f"class {k}"
        per_class.append({"id": k, "name": name, "pixels": pixels, "percent": round(100 * pixels / total, 4)})
    return {
        "width": width,
        "height": height,
        "pixels": total,
        "foreground_pixels": foreground,
        "foreground_percent": round(100 * foreground / total, 4),
        "classes": per_class,
    }
