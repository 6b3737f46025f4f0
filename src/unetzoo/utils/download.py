"""Fetch a dataset archive over HTTP(S), check its sha256, and unpack it without letting it write outside.

Nothing is trusted before it is checked:

- :func:`download` streams to a temporary ``.part`` file beside the destination and moves it into place only
  when its sha256 matches the one given; on any failure nothing is left behind.
- :func:`extract` unpacks a zip or tar (plain, gz, bz2, xz) member by member into a temporary folder that is
  renamed to the target at the end. Before each member is written it is vetted against what is already on
  disk: absolute paths, ``..`` components, links whose target resolves outside the folder (also through
  earlier links), device files and FIFOs are refused, and the whole extraction is discarded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from unetzoo.errors import UnetzooError
from unetzoo.utils.atomic import current_umask, temporary_file

SCHEMES = ("http", "https")
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _check_url(url: str) -> None:
    if urlsplit(url).scheme.lower() not in SCHEMES:
        raise UnetzooError(f"{url}: only {'/'.join(SCHEMES)} URLs are downloaded", exit_code=2)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would also follow one to ftp)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, dest: str | os.PathLike[str], sha256: str, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` if and only if its content has the given sha256 (hex)."""
    _check_url(url)
    if not _SHA256.match(sha256):
        raise UnetzooError(f"sha256 {sha256!r}: expected 64 hex digits", exit_code=2)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_file(dest, ".part")
    digest = hashlib.sha256()
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    try:
        with os.fdopen(fd, "wb") as fh, opener.open(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(_CHUNK), b""):
                digest.update(block)
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        if digest.hexdigest() != sha256.lower():
            raise UnetzooError(
                f"{url}: sha256 {digest.hexdigest()} does not match the expected {sha256.lower()}; the download "
                "is corrupt or was tampered with, and was discarded"
            )
        os.replace(tmp, dest)
    except urllib.error.HTTPError as exc:
        raise UnetzooError(f"{url}: HTTP {exc.code} {exc.reason}; check the URL") from None
    except urllib.error.URLError as exc:
        raise UnetzooError(f"{url}: cannot connect ({exc.reason}); check the URL and the network") from None
    except OSError as exc:
        raise UnetzooError(f"{url}: download failed ({exc}); retry, or check the disk space of {dest.parent}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return dest


def _refuse(archive: Path, name: str, why: str) -> UnetzooError:
    return UnetzooError(f"{archive}: member {name!r} {why}; refusing to extract this archive")


def _inside(root: Path, path: str | os.PathLike[str]) -> bool:
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


def _destination(archive: Path, root: Path, name: str) -> Path:
    """Where member ``name`` goes under ``root`` (a resolved folder), or a refusal."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise _refuse(archive, name, "has an absolute path")
    parts = PurePosixPath(posix).parts
    if ".." in parts:
        raise _refuse(archive, name, "has a '..' component")
    dest = root.joinpath(*parts)
    if not _inside(root, dest):
        raise _refuse(archive, name, "would be written through a link outside the target")
    return dest


def _check_link(archive: Path, root: Path, name: str, target: str, base: Path) -> None:
    """A link's target, taken relative to ``base``, must resolve inside ``root`` (through existing links too)."""
    if target.replace("\\", "/").startswith("/") or re.match(r"^[A-Za-z]:", target):
        raise _refuse(archive, name, f"links to the absolute path {target!r}")
    if not _inside(root, base / target):
        raise _refuse(archive, name, f"links to {target!r}, outside the target")


def _extract_tar(archive: Path, root: Path) -> None:
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # a second line of defence
    with tarfile.open(archive) as tar:
        for member in tar:
            dest = _destination(archive, root, member.name)
            if member.issym():
                _check_link(archive, root, member.name, member.linkname, dest.parent)
            elif member.islnk():
                _check_link(archive, root, member.name, member.linkname, root)
            elif not (member.isfile() or member.isdir()):
                raise _refuse(archive, member.name, "is a device file or FIFO")
            tar.extract(member, root, set_attrs=False, **extra)


def _extract_zip(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            dest = _destination(archive, root, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse(archive, info.filename, "is a symbolic link (not supported in zip archives)")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "xb") as out:
                shutil.copyfileobj(src, out, _CHUNK)


def extract(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Unpack a zip or tar archive into ``target`` (which must be absent or empty); all or nothing."""
    archive, target = Path(archive), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UnetzooError(f"{target}: already exists and is not an empty folder; choose another target")
    if zipfile.is_zipfile(archive):
        unpack = _extract_zip
    elif tarfile.is_tarfile(archive):
        unpack = _extract_tar
    else:
        raise UnetzooError(f"{archive}: not a zip or tar archive")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        staging.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would become the dataset folder's mode
        unpack(archive, Path(os.path.realpath(staging)))
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UnetzooError(f"{archive}: cannot be extracted ({exc}); download it again") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def fetch_dataset(url: str, sha256: str, target: str | os.PathLike[str], *, timeout: float = 60.0) -> Path:
    """Download the archive at ``url``, verify its sha256 and unpack it into ``target``; returns ``target``."""
    target = Path(target)
    archive = download(url, target.parent / f".{target.name}.archive", sha256, timeout=timeout)
    try:
        return extract(archive, target)
    finally:
        archive.unlink(missing_ok=True)
