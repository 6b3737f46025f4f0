"""Security: checkpoint integrity (sha256 records), code-carrying files, decompression bombs."""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import torch

import unetzoo.utils.integrity
from unetzoo.cli import main
from unetzoo.data.io import MAX_PIXELS, image_info, read_image
from unetzoo.engine.checkpoint import load_checkpoint, save_checkpoint
from unetzoo.errors import UnetzooError
from unetzoo.utils.integrity import digest_path, read_digests, sha256_file, write_with_digest


def _copy(checkpoint: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy(checkpoint, folder / checkpoint.name)
    shutil.copy(digest_path(checkpoint), digest_path(folder / checkpoint.name))
    return folder / checkpoint.name


def test_a_saved_checkpoint_carries_its_sha256(gray_checkpoint: Path) -> None:
    assert read_digests(gray_checkpoint) == [sha256_file(gray_checkpoint)]
    assert digest_path(gray_checkpoint).read_text().endswith(f"  {gray_checkpoint.name}\n")  # sha256sum -c format


def test_tampered_checkpoint_is_refused(
    gray_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(gray_checkpoint, tmp_path / "run")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside the weights
    path.write_bytes(bytes(data))
    with pytest.raises(UnetzooError, match=r"refused: its sha256 \w+\.\.\. does not match gray\.pt\.sha256"):
        load_checkpoint(path)
    image = tmp_path / "a.png"
    image.write_bytes(_png(16, 16))
    assert main(["predict", "--checkpoint", str(path), str(image), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "modified, truncated or swapped" in err


def test_swapped_checkpoint_is_refused(gray_checkpoint: Path, rgb_checkpoint: Path, tmp_path: Path) -> None:
    path = _copy(gray_checkpoint, tmp_path / "run")
    shutil.copy(rgb_checkpoint, path)  # a valid checkpoint, but not the one recorded
    with pytest.raises(UnetzooError, match="does not match"):
        load_checkpoint(path)


def test_checkpoint_without_record_loads_and_corrupt_record_is_clear(gray_checkpoint: Path, tmp_path: Path) -> None:
    path = _copy(gray_checkpoint, tmp_path / "run")
    digest_path(path).unlink()
    assert load_checkpoint(path)["model"]["name"] == "ulite"  # copied alone: not checked
    digest_path(path).write_text("garbage\n")
    with pytest.raises(UnetzooError, match=r"gray\.pt\.sha256: not a sha256 record"):
        load_checkpoint(path)


def test_crash_between_record_and_file_keeps_a_verifiable_pair(
    gray_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is widened to old+new before the file is replaced: a crash there leaves the old file valid."""
    path = _copy(gray_checkpoint, tmp_path / "run")
    old = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("power cut")

    with monkeypatch.context() as patched:
        patched.setattr(unetzoo.utils.integrity, "atomic_write", crash)
        with pytest.raises(OSError, match="power cut"):
            save_checkpoint(path, {"epoch": 2, "state_dict": {}})
    assert path.read_bytes() == old and len(read_digests(path) or []) == 2
    assert load_checkpoint(path)["model"]["name"] == "ulite"
    save_checkpoint(path, {"epoch": 3, "state_dict": {}})  # the next save narrows the record again
    assert read_digests(path) == [sha256_file(path)] and load_checkpoint(path)["epoch"] == 3


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned > /dev/null",))


def test_code_carrying_file_is_refused_even_with_a_matching_record(tmp_path: Path) -> None:
    """An attacker who rewrites both the file and its record still cannot get code run: weights_only refuses it."""
    buffer = io.BytesIO()
    torch.save({"format": "unetzoo-checkpoint", "payload": _Evil()}, buffer)
    path = tmp_path / "best.pt"
    write_with_digest(path, buffer.getvalue())
    with pytest.raises(UnetzooError, match="could run code"):
        load_checkpoint(path)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit gray) over a few bytes of real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(width) for _ in range(min(height, 16)))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


def _tiff(width: int, height: int) -> bytes:
    """A little-endian baseline TIFF whose IFD claims ``width`` x ``height`` 8-bit gray pixels in one strip."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 4, height), (279, 4, 16)]  # fmt: skip
    ifd_offset = 8 + 16
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in entries
    )
    return b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(16) + ifd + struct.pack("<I", 0)


@pytest.mark.parametrize(("name", "maker"), [("bomb.png", _png), ("bomb.tif", _tiff)])
def test_decompression_bomb_is_refused_with_the_pixel_limit(
    name: str, maker: object, gray_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(maker(100_000, 100_000))  # type: ignore[operator]
    assert path.stat().st_size < 4096  # a few KB claiming 10^10 pixels
    limit = f"{MAX_PIXELS:,}-pixel limit"
    for reader in (image_info, read_image):
        with pytest.raises(UnetzooError, match=limit) as info:
            reader(path)
        assert "decompression-bomb guard" in str(info.value)
    assert main(["predict", "--checkpoint", str(gray_checkpoint), str(path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and limit in err and "Traceback" not in err


def test_image_just_under_the_limit_header_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_png(8192, 8192))
    assert image_info(path).height == 8192  # the header alone is fine; decoding would then be bounded
