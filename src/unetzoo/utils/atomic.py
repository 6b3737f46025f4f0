"""Atomic file writing: a crash never leaves a truncated file in place of a good one.

Everything unetzoo writes (checkpoints, predictions, reports, exports) goes through :func:`atomic_write`:
the content is written to a temporary file in the destination folder, flushed and fsynced, then moved
over the destination with ``os.replace`` (atomic on POSIX and Windows). On any error the temporary file
is removed and the destination is untouched.

Permissions: ``tempfile.mkstemp`` creates its file 0600, which ``os.replace`` would carry over to the
destination. :func:`temporary_file` gives it the mode a plain ``open(path, "w")`` would (0666 minus the
process umask: 0644 under the usual umask 022), so a colleague, a web server or a container running under
another uid can read what unetzoo wrote, exactly as far as the umask allows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from unetzoo.errors import UnetzooError

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read from ``/proc/self/status`` where it is listed (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it: restore it at once
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def temporary_file(dest: Path, suffix: str) -> tuple[int, str]:
    """``mkstemp`` beside ``dest`` (same file system, so ``os.replace`` is atomic) with the mode a newly
    created ``dest`` would get: 0666 minus the umask, not mkstemp's 0600. Returns (fd, path)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
    except OSError:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def _start(dest: Path, suffix: str) -> tuple[int, str]:
    """The temporary file beside ``dest``, its folder created; a one-line error where that is impossible."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return temporary_file(dest, suffix)
    except OSError as exc:
        raise UnetzooError(f"{dest}: cannot write here ({exc.strerror}); choose a writable --out folder") from exc


def _abandon(dest: Path, tmp: str, exc: BaseException) -> None:
    """Remove the temporary file after a failure; re-raise an ``OSError`` as the one-line error."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    if isinstance(exc, OSError):
        hint = "free some disk space" if exc.errno == errno.ENOSPC else "check the folder's permissions"
        raise UnetzooError(f"{dest}: write failed ({exc.strerror}); {hint} and retry") from exc


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` atomically when the block exits cleanly."""
    dest = Path(path)
    fd, tmp = _start(dest, ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        _abandon(dest, tmp, exc)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes by file name (nibabel, SimpleITK, ...).

    ``suffix`` ends the temporary name (``".nii.gz"``) so the library picks the format from it. When the block
    exits cleanly the file is fsynced and moved over ``path``; on any error it is removed and ``path`` is
    untouched.
    """
    dest = Path(path)
    fd, tmp = _start(dest, suffix)
    try:
        os.close(fd)
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException as exc:
        _abandon(dest, tmp, exc)
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
