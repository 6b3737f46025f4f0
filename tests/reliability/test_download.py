"""The dataset downloader against a local HTTP server on 127.0.0.1 only, with archives built here (some hostile)."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from unetzoo.errors import UnetzooError
from unetzoo.utils.download import download, extract, fetch_dataset

Member = tuple[str, str, bytes | str]  # (kind, name, content or link target); kind: file | dir | sym | hard | fifo


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def www(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """(folder served, base URL) of an HTTP server bound to 127.0.0.1, bypassing any proxy."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_tar(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for kind, name, content in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = content if isinstance(content, bytes) else content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}.get(
                kind, tarfile.FIFOTYPE
            )
            info.linkname = str(content) if kind in ("sym", "hard") else ""
            tar.addfile(info)
    return path


def make_zip(path: Path, members: list[Member]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for kind, name, content in members:
            info = zipfile.ZipInfo(name)
            if kind == "sym":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, content)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


GOOD: list[Member] = [
    ("dir", "data/", b""),
    ("file", "data/images/a.png", b"\x89PNG fake"),
    ("file", "data/masks/a.png", b"mask"),
    ("sym", "data/latest", "images"),
]


@pytest.mark.parametrize("maker", [make_tar, make_zip], ids=["tar.gz", "zip"])
def test_fetch_verifies_and_unpacks(www: tuple[Path, str], tmp_path: Path, maker: Callable) -> None:
    root, base = www
    members = GOOD if maker is make_tar else GOOD[:3]  # zip archives carry no links here
    archive = maker(root / "ds.bin", members)
    target = fetch_dataset(f"{base}/ds.bin", _sha(archive), tmp_path / "out" / "ds")
    assert (target / "data/images/a.png").read_bytes() == b"\x89PNG fake"
    assert (target / "data/masks/a.png").read_bytes() == b"mask"
    if maker is make_tar:
        assert (target / "data/latest").is_symlink() and (target / "data/latest/a.png").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["ds"]  # no archive or temp left


def test_wrong_sha256_keeps_nothing(www: tuple[Path, str], tmp_path: Path) -> None:
    root, base = www
    (root / "f.bin").write_bytes(b"tampered content")
    dest = tmp_path / "dl" / "f.bin"
    with pytest.raises(UnetzooError, match="does not match the expected"):
        download(f"{base}/f.bin", dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "sha", "message"),
    [
        ("/missing.zip", "0" * 64, "HTTP 404"),
        ("file:///etc/passwd", "0" * 64, "only http/https"),
        ("/f.bin", "not-a-digest", "64 hex digits"),
    ],
)
def test_bad_requests_are_clear_errors(www: tuple[Path, str], tmp_path: Path, url: str, sha: str, message: str) -> None:
    _, base = www
    with pytest.raises(UnetzooError, match=message):
        download(base + url if url.startswith("/") else url, tmp_path / "x", sha)


HOSTILE: list[tuple[str, Callable, list[Member], str]] = [
    ("tar-dotdot", make_tar, [("file", "../evil.txt", "x")], "'..' component"),
    ("tar-absolute", make_tar, [("file", "/tmp/evil.txt", "x")], "absolute path"),
    ("tar-symlink-out", make_tar, [("sym", "link", "../../evil")], "outside the target"),
    ("tar-symlink-absolute", make_tar, [("sym", "link", "/etc")], "absolute path"),
    ("tar-hardlink-out", make_tar, [("hard", "link", "../evil.txt")], "outside the target"),
    # "deep" -> "." stays inside, and "deep/x" -> ".." looks inside on paper, but through "deep" it is the parent.
    ("tar-link-chain", make_tar, [("sym", "deep", "."), ("sym", "deep/x", "..")], "outside the target"),
    ("tar-write-through-link", make_tar, [("sym", "up", ".."), ("file", "up/evil.txt", "x")], "outside the target"),
    ("tar-fifo", make_tar, [("fifo", "pipe", "")], "device file or FIFO"),
    ("zip-dotdot", make_zip, [("file", "../evil.txt", "x")], "'..' component"),
    ("zip-absolute", make_zip, [("file", "/tmp/evil.txt", "x")], "absolute path"),
    ("zip-windows-drive", make_zip, [("file", "C:/evil.txt", "x")], "absolute path"),
    ("zip-symlink", make_zip, [("sym", "link", "../../etc/passwd")], "symbolic link"),
]


@pytest.mark.parametrize(("maker", "members", "message"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_archives_are_refused_and_leave_nothing(
    tmp_path: Path, maker: Callable, members: list[Member], message: str
) -> None:
    box = tmp_path / "box"  # the target's parent: nothing may appear here or above
    box.mkdir()
    archive = maker(tmp_path / "evil.bin", [("file", "ok.txt", "fine"), *members])
    with pytest.raises(UnetzooError, match=message):
        extract(archive, box / "target")
    assert list(box.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "evil.bin"]


def test_non_archive_and_non_empty_target_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"neither zip nor tar")
    with pytest.raises(UnetzooError, match="not a zip or tar"):
        extract(junk, tmp_path / "t")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    archive = make_zip(tmp_path / "a.zip", [("file", "a.txt", "x")])
    with pytest.raises(UnetzooError, match="not an empty folder"):
        extract(archive, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_downloads_and_unpacked_folders_follow_the_umask(www: tuple[Path, str], tmp_path: Path) -> None:
    """Not mkstemp's 0600 nor mkdtemp's 0700: under umask 022 a colleague can read the data."""
    root, base = www
    archive = make_tar(root / "ds.bin", GOOD[:3])
    old = os.umask(0o022)
    try:
        got = download(f"{base}/ds.bin", tmp_path / "ds.tar.gz", _sha(archive))
        target = extract(got, tmp_path / "ds")
    finally:
        os.umask(old)
    assert stat.S_IMODE(got.stat().st_mode) == 0o644
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
