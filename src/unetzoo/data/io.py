"""Read and write 2D images and multi-page TIFF stacks with Pillow and tifffile, behind a pixel limit.

Every failure is a :class:`UnetzooError` whose one-line message names the file and the fix: empty, truncated or
non-image files, content that does not match the extension, and headers claiming more than :data:`MAX_PIXELS`
pixels (a decompression-bomb guard checked before any pixel is decoded). TIFF goes through tifffile (16-bit,
float, multi-channel); PNG, JPEG, BMP and GIF through Pillow. JPEG EXIF orientation is ignored on purpose: masks
must align with the stored pixels.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from unetzoo.data.problems import DataError, Problem, fail

MAX_PIXELS = 8192 * 8192
"""Largest image (height x width, per slice) read or even header-checked further: 67,108,864 pixels."""

IMAGE_EXTENSIONS: dict[str, str] = {
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".gif": "GIF",
}
"""Supported file extensions and the container format each must hold."""

_CANONICAL_EXTENSION = {"PNG": ".png", "TIFF": ".tif", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif"}
_FORMAT_ALIASES = {"MPO": "JPEG"}  # Pillow reports multi-picture JPEGs as MPO
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La")  # Pillow modes whose last band is alpha (PA: a palette image)
_TIFF_2D_AXES = {"YX", "YXS", "CYX", "SYX"}


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, read without decoding pixels.

    ``channels`` counts stored bands (RGBA is 4, a palette image 1); ``palette`` marks Pillow ``P`` images whose
    pixels are indices into a colour table (class ids when used as masks); ``alpha`` marks a last band that is
    alpha (Pillow's ``RGBA``/``LA`` modes; in a TIFF, an RGB image's extra sample declared alpha), which reading
    drops. A 4-channel TIFF without it (an ImageJ CYX hyperstack of four stains) keeps its four channels.
    """

    format: str
    height: int
    width: int
    channels: int
    dtype: str
    palette: bool = False
    alpha: bool = False


class PixelLimitError(DataError):
    """An image header claims more than :data:`MAX_PIXELS` pixels; ``size`` is the claim (``"HxW (HxW) pixels"``
    or ``"N pixels"``), so a caller with a lower limit of its own (``unetzoo serve``) can name that one instead."""

    def __init__(self, problem: Problem, size: str) -> None:
        super().__init__(problem)
        self.size = size


def _too_big(path: str | os.PathLike[str], size: str) -> PixelLimitError:
    what = f"image header claims {size}, over the {MAX_PIXELS:,}-pixel limit (decompression-bomb guard)"
    return PixelLimitError(
        fail(path, what, "tile or downscale the image, or check that the file is not corrupt").problem, size
    )


def _check_pixels(path: str | os.PathLike[str], height: int, width: int) -> None:
    if height * width > MAX_PIXELS:
        raise _too_big(path, f"{height}x{width} (HxW) pixels")
    if height < 1 or width < 1:
        raise fail(path, f"image header claims {height}x{width} (HxW) pixels", "re-export the image")


def _check_file(path: Path) -> str:
    """The expected container format of ``path``; raises for missing, empty or unsupported files."""
    if not path.is_file():
        raise fail(path, "no such file", "check the path")
    expected = IMAGE_EXTENSIONS.get(path.suffix.lower())
    if expected is None:
        raise fail(
            path,
            f"unsupported extension {path.suffix!r}",
            f"convert it to one of {', '.join(sorted(IMAGE_EXTENSIONS))} or move it out of the data folder",
        )
    if path.stat().st_size == 0:
        raise fail(path, "file is empty (0 bytes)", "re-export it or remove it")
    return expected


def _open_pil(path: Path) -> Image.Image:
    """Open with Pillow (header only), turning its bomb warning/error and unreadable files into our error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            claimed = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (N pixels) exceeds ..."
            raise _too_big(
                path, f"{int(claimed[1]):,} pixels" if claimed else "more pixels than Pillow allows"
            ) from None
        except UnidentifiedImageError:
            raise fail(path, "not an image Pillow can identify", "re-export it as PNG or TIFF, or remove it") from None
        except Exception as exc:  # any decoder failure on a user file is bad data, not a bug
            raise fail(path, f"unreadable image header ({exc})", "re-export it or remove it") from None


def _pil_format(im: Image.Image) -> str:
    return _FORMAT_ALIASES.get(str(im.format), str(im.format))


def _wrong_extension(path: Path, actual: str) -> DataError:
    ext = _CANONICAL_EXTENSION.get(actual)
    fix = f"rename it to {path.stem}{ext}" if ext else "convert it to PNG or TIFF"
    return fail(path, f"contains {actual} data but is named {path.suffix}", fix)


def _pil_info(path: Path, im: Image.Image, expected: str) -> ImageInfo:
    actual = _pil_format(im)
    if actual != expected:
        raise _wrong_extension(path, actual)
    width, height = im.size
    _check_pixels(path, height, width)
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        raise fail(path, f"has {frames} frames", "store one 2D image per file (frame 0 is not guessed)")
    mode = im.mode
    dtype = {"1": "bool", "I": "int32", "F": "float32"}.get(mode, "uint16" if mode.startswith("I;16") else "uint8")
    channels = 1 if mode.startswith("I;16") else len(im.getbands())
    return ImageInfo(actual, height, width, channels, dtype, palette=mode in ("P", "PA"), alpha=mode in _ALPHA_MODES)


def _open_tiff(path: Path) -> tifffile.TiffFile:
    """Open a TIFF and index its pages up front: tifffile walks a corrupt IFD chain lazily without end."""
    tif = tifffile.TiffFile(path)
    try:
        len(tif.pages)
    except BaseException:
        tif.close()
        raise
    return tif


def _check_decoded(path: Path | str, arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """The decoded pixels must have the size the header claimed (a corrupt file can decode to anything)."""
    if arr.ndim not in (2, 3) or arr.shape[:2] != (height, width):
        raise fail(path, f"decodes to shape {arr.shape}, not the {height}x{width} its header claims", "re-export it")
    return arr


def _tiff_info(path: Path, tif: tifffile.TiffFile) -> ImageInfo:
    series = tif.series[0]
    axes, shape = series.axes, series.shape
    if axes not in _TIFF_2D_AXES:
        raise fail(
            path,
            f"TIFF holds shape {shape} (axes {axes}), not one 2D image",
            "store one 2D gray/RGB image per file, or pass a multi-page stack file itself as --data",
        )
    height, width = (shape[0], shape[1]) if axes.startswith("YX") else (shape[1], shape[2])
    _check_pixels(path, height, width)
    channels = 1 if axes == "YX" else (shape[2] if axes == "YXS" else shape[0])
    page = tif.pages.first
    alpha = (
        channels == 4
        and page.photometric == tifffile.PHOTOMETRIC.RGB
        and any(
            sample in (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA) for sample in page.extrasamples
        )
    )
    return ImageInfo("TIFF", height, width, channels, str(series.dtype), alpha=alpha)


def _not_tiff(path: Path, exc: Exception) -> DataError:
    """Explain a TIFF-named file tifffile cannot parse: another format in disguise, or corrupt."""
    try:
        with Image.open(path) as im:
            actual = _pil_format(im)
    except Exception:
        return fail(path, f"not a readable TIFF ({exc})", "re-export it or remove it")
    return _wrong_extension(path, actual)


def image_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Read the header of a 2D image; raises :class:`UnetzooError` for anything that cannot be read safely."""
    path = Path(path)
    expected = _check_file(path)
    if expected == "TIFF":
        try:
            with _open_tiff(path) as tif:
                return _tiff_info(path, tif)
        except DataError:
            raise
        except Exception as exc:
            raise _not_tiff(path, exc) from None
    with _open_pil(path) as im:
        return _pil_info(path, im, expected)


def verify_image(path: str | os.PathLike[str]) -> None:
    """Integrity check without decoding pixels: PNG chunk CRCs up to IEND (catches truncated PNGs).

    Other formats get the header check only; decode them with :func:`read_image` for a full check.
    """
    path = Path(path)
    info = image_info(path)
    if info.format != "PNG":
        return
    with _open_pil(path) as im:
        try:
            im.verify()
        except Exception as exc:
            raise fail(path, f"truncated or corrupt PNG ({exc})", "re-export it or remove it") from None


def _pil_pixels(im: Image.Image, mask: bool) -> np.ndarray:
    mode = im.mode
    if mask and mode in ("P", "PA"):
        return np.asarray(im)[..., 0] if mode == "PA" else np.asarray(im)
    if mode == "1":
        return np.asarray(im, dtype=np.uint8) * (1 if mask else 255)
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)
    if mode in ("L", "I", "F", "RGB"):
        return np.asarray(im)
    return np.asarray(im.convert("L" if mode in ("LA", "La") else "RGB"))


def _tiff_pixels(arr: np.ndarray, axes: str) -> np.ndarray:
    return np.moveaxis(arr, 0, -1) if axes in ("CYX", "SYX") else arr


def read_image(path: str | os.PathLike[str], *, mask: bool = False) -> np.ndarray:
    """Decode a 2D image into its native dtype: ``HxW`` (gray) or ``HxWxC``.

    Alpha is dropped (RGBA -> RGB, LA -> L; in a TIFF only a sample declared alpha: a 4-channel ImageJ hyperstack
    keeps its 4 channels). Palette images become RGB, except masks (``mask=True``), whose palette indices are
    returned as class ids.
    """
    path = Path(path)
    info = image_info(path)
    try:
        if info.format == "TIFF":
            with _open_tiff(path) as tif:
                arr = _tiff_pixels(tif.series[0].asarray(), tif.series[0].axes)
        else:
            with _open_pil(path) as im:
                arr = _pil_pixels(im, mask)
    except Exception as exc:
        raise fail(path, f"truncated or corrupt image data ({exc})", "re-export it or remove it") from None
    _check_decoded(path, arr, info.height, info.width)
    if info.alpha and info.format == "TIFF":  # Pillow's formats were converted above
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


def is_2d_tiff(path: str | os.PathLike[str]) -> bool:
    """Whether a TIFF holds one 2D image, gray, colour or with channels (``YX``, ``YXS``, ``CYX``: an ImageJ
    hyperstack of stains, one page per channel), rather than a stack of slices; False for an unreadable file
    (:func:`stack_info` and :func:`read_image` say what is wrong with it)."""
    try:
        with _open_tiff(Path(path)) as tif:
            return tif.series[0].axes in _TIFF_2D_AXES
    except Exception:
        return False


def stack_info(path: str | os.PathLike[str]) -> tuple[int, ImageInfo]:
    """Number of slices and the per-slice header of a multi-page TIFF stack (``ZYX`` or ``ZYXS``)."""
    path = Path(path)
    _check_file(path)
    try:
        with _open_tiff(path) as tif:
            page = tif.pages.first
            height, width = page.shape[:2]
            channels = page.shape[2] if page.ndim == 3 else 1
            n = len(tif.pages)
            dtype = str(page.dtype)
    except Exception as exc:
        raise _not_tiff(path, exc) from None
    _check_pixels(path, height, width)
    return n, ImageInfo("TIFF", height, width, channels, dtype)


def read_stack_slice(path: str | os.PathLike[str], index: int) -> np.ndarray:
    """Decode slice ``index`` of a multi-page TIFF stack (only that page is read)."""
    path = Path(path)
    _, info = stack_info(path)
    try:
        with _open_tiff(path) as tif:
            page = tif.pages[index]
            if page.shape[:2] != (info.height, info.width):
                raise fail(
                    f"{path} slice {index}",
                    f"is {page.shape[0]}x{page.shape[1]} (HxW), slice 0 is {info.height}x{info.width}",
                    "all slices of a stack must have one size",
                )
            arr = _check_decoded(f"{path} slice {index}", page.asarray(), info.height, info.width)
            return np.ascontiguousarray(arr)
    except DataError:
        raise
    except Exception as exc:
        raise fail(f"{path} slice {index}", f"unreadable ({exc})", "re-export the stack") from None


def write_image(path: str | os.PathLike[str], array: np.ndarray, *, rgb: bool | None = None) -> None:
    """Write an image or a stack losslessly and atomically (a temporary file renamed into place).

    ``.png``: ``HxW`` uint8/uint16 or ``HxWx3`` uint8. ``.tif``/``.tiff``: any
    dtype; ``HxW``, ``HxWx3`` (RGB), ``NxHxW`` (one page per slice) or ``NxHxWx3``. ``rgb`` overrides the guess
    that a last axis of 3 holds colour.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise fail(path, f"cannot write {path.suffix!r} losslessly", "use .png or .tif")
    if array.ndim == 3 and array.shape[-1] == 1:  # HxWx1: a single-channel image
        array = array[..., 0]
    colour = rgb if rgb is not None else (array.ndim in (3, 4) and array.shape[-1] == 3)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if path.suffix.lower() == ".png":
            Image.fromarray(array).save(tmp, format="PNG", compress_level=6)
        else:
            tifffile.imwrite(tmp, array, photometric="rgb" if colour else "minisblack", compression="zlib")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
