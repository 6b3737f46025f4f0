"""Atomic file writing: a crash never leaves a truncated file in place of a good one.

Everything unetzoo writes (checkpoints, predictions, reports, exports) goes through :func:`atomic_write`:
the content is written to a temporary file in the destination folder, flushed and fsynced, then moved
over the destination with ``os.replace`` (atomic on POSIX and Windows). On any error the temporary file
is removed and the destination is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from unetzoo.errors import UnetzooError


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` atomically when the block exits cleanly."""
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise UnetzooError(f"{dest}: cannot write here ({exc.strerror}); choose a writable --out folder") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            hint = "free some disk space" if exc.errno == errno.ENOSPC else "check the folder's permissions"
            raise UnetzooError(f"{dest}: write failed ({exc.strerror}); {hint} and retry") from exc
        raise


def atomic_write(path: str | os.PathLike[str], writer: Callable[[BinaryIO], object]) -> Path:
    """Call ``writer(fh)`` on a temporary file and move it over ``path`` atomically; return the path."""
    with atomic_open(path) as fh:
        writer(fh)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
