"""sha256 integrity records: ``<file>.sha256`` beside a file (``sha256sum`` format), written and checked together.

:func:`write_with_digest` replaces a file and its record so that a crash at any instant leaves a pair that
verifies: the record first lists the new digest *and* the old one(s), then the file is replaced atomically,
then the record is narrowed to the new digest. :func:`verify_digest` refuses bytes whose digest the record
does not list (the file was modified, truncated or swapped after unetzoo wrote it). A file without a record
(copied alone, or written by an older unetzoo) is not checked.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from unetzoo.errors import UnetzooError
from unetzoo.utils.atomic import atomic_write, atomic_write_text

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_path(path: str | os.PathLike[str]) -> Path:
    """Where the record of ``path`` lives: ``<path>.sha256``."""
    p = Path(path)
    return p.with_name(f"{p.name}.sha256")


def read_digests(path: str | os.PathLike[str]) -> list[str] | None:
    """The digests the record of ``path`` accepts, or None when there is no record."""
    record = digest_path(path)
    try:
        text = record.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnetzooError(f"{record}: unreadable integrity record ({exc}); restore it or delete it") from exc
    matches = [_LINE.match(line) for line in text.splitlines() if line.strip()]
    if not matches or not all(matches):
        raise UnetzooError(f"{record}: not a sha256 record (`<64 hex>  <name>` lines); restore it or delete it")
    return [m[1] for m in matches if m]


def _write_record(path: Path, digests: list[str]) -> None:
    atomic_write_text(digest_path(path), "".join(f"{d}  {path.name}\n" for d in dict.fromkeys(digests)))


def write_with_digest(path: str | os.PathLike[str], data: bytes | memoryview) -> str:
    """Atomically replace ``path`` with ``data`` and its record with the new digest; returns the digest."""
    p = Path(path)
    new = sha256_bytes(data)
    old = read_digests(p)
    if old is None:
        old = [sha256_file(p)] if p.is_file() else []
    _write_record(p, [new, *old])  # a crash from here on leaves the old file, which the record still accepts
    atomic_write(p, lambda fh: fh.write(data))
    _write_record(p, [new])
    return new


def verify_digest(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Refuse ``data`` (the content of ``path``) if ``path`` has a record that does not list its sha256."""
    accepted = read_digests(path)
    if accepted is None:
        return
    actual = sha256_bytes(data)
    if actual not in accepted:
        record = digest_path(path)
        raise UnetzooError(
            f"{path}: refused: its sha256 {actual[:12]}... does not match {record.name} ({accepted[0][:12]}...); "
            "the file was modified, truncated or swapped after unetzoo wrote it; use an intact copy"
        )
