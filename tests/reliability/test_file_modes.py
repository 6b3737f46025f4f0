"""Files unetzoo writes get the mode the umask allows (0644 under umask 022), not mkstemp's private 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from unetzoo.cli import main
from unetzoo.utils.atomic import atomic_write_bytes, atomic_write_text, current_umask
from unetzoo.utils.integrity import digest_path, write_with_digest


@pytest.fixture
def umask() -> Iterator[None]:
    """Run the test under umask 022 (a shell's usual one), whatever the test runner's umask is."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing_it(umask: None) -> None:
    assert current_umask() == 0o022
    assert current_umask() == 0o022  # reading it left it as it was


def test_atomic_writes_follow_the_umask(umask: None, tmp_path: Path) -> None:
    text, data = atomic_write_text(tmp_path / "summary.json", "{}"), atomic_write_bytes(tmp_path / "a.bin", b"x")
    write_with_digest(tmp_path / "best.pt", b"weights")
    assert {p.name: mode(p) for p in (text, data, tmp_path / "best.pt", digest_path(tmp_path / "best.pt"))} == {
        "summary.json": 0o644,
        "a.bin": 0o644,
        "best.pt": 0o644,
        "best.pt.sha256": 0o644,
    }
    os.umask(0o027)  # a stricter umask is honoured too
    assert mode(atomic_write_text(tmp_path / "private.txt", "x")) == 0o640


def test_run_outputs_are_readable_by_others(umask: None, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--model", "ulite", "--data", "synthetic:nuclei?n=4&size=32", "--epochs", "1"]
    args += ["--batch-size", "2", "--patch-size", "32", "32", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    modes = {p.name: oct(mode(p)) for p in out.iterdir()}
    for name in ("best.pt", "last.pt", "best.pt.sha256", "summary.json", "report.html", "log.json", "config.yaml"):
        assert modes.pop(name) == oct(0o644), name
    assert set(modes.values()) == {oct(0o644)}, modes
