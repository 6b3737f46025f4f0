"""Broken inputs get one line naming the file and the fix; a failed write leaves the previous file intact."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from volgen import NIBABEL_DATA, oblique, volume

from unetzoo.errors import UnetzooError
from unetzoo.volumes import read_volume, write_volume
from unetzoo.volumes.io import read_info

SRC = str(Path(__file__).resolve().parents[2] / "src")


def one_line(path: Path, **kwargs: object) -> str:
    with pytest.raises(UnetzooError) as info:
        read_volume(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "scan.img").write_bytes(b"\0" * 64)
    assert "unsupported volume extension '.img'; use .nii, .nii.gz, .mha, .mhd, .nrrd" in one_line(
        tmp_path / "scan.img"
    )
    assert "does not exist" in one_line(tmp_path / "absent.nii.gz")
    assert "series= applies to DICOM folders only" in one_line(NIBABEL_DATA / "anatomical.nii", series="1.2")


@pytest.mark.parametrize("ending", [".nii", ".nii.gz", ".mha", ".nrrd"])
def test_truncated_files(tmp_path: Path, ending: str) -> None:
    path = write_volume(tmp_path / f"scan{ending}", volume((8, 16, 16)), oblique())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "corrupt or truncated: export it again" in one_line(path)


@pytest.mark.parametrize("ending", [".nii", ".nii.gz"])
def test_header_read_notices_truncation(tmp_path: Path, ending: str) -> None:
    """read_info reads no voxels, yet a truncated NIfTI is refused: by its length, or by its gzip trailer."""
    path = write_volume(tmp_path / f"scan{ending}", volume((8, 16, 16)), oblique())
    shape, geometry = read_info(path)
    assert shape == (8, 16, 16) and geometry == read_volume(path).geometry
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(UnetzooError, match="corrupt or truncated: export it again") as info:
        read_info(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_header_read_accepts_a_multi_member_gzip(tmp_path: Path) -> None:
    """bgzip-style files (several gzip members) carry the trailer of their last member only: read in full."""
    plain = write_volume(tmp_path / "scan.nii", volume((8, 16, 16)), oblique())
    data = plain.read_bytes()
    (multi := tmp_path / "multi.nii.gz").write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    assert read_info(multi) == ((8, 16, 16), read_volume(plain).geometry)


@pytest.mark.parametrize("ending", [".nii", ".mha", ".nrrd"])
def test_not_a_volume(tmp_path: Path, ending: str) -> None:
    (path := tmp_path / f"notes{ending}").write_text("acquired on Tuesday\n")
    assert "cannot be read as" in one_line(path)


def test_mhd_without_its_raw(tmp_path: Path) -> None:
    path = write_volume(tmp_path / "scan.mhd", volume(), oblique())
    (tmp_path / "scan.raw").unlink()
    assert "its data file scan.raw is missing; put scan.raw beside it" in one_line(path)


def test_4d_file_when_3d_expected() -> None:
    """nibabel's example4d.nii.gz: a real oblique fMRI run with two time points."""
    message = one_line(NIBABEL_DATA / "example4d.nii.gz")
    assert "is 4D (128x96x24x2) but a 3D volume was expected; store each channel or time point" in message


def test_bad_writes(tmp_path: Path) -> None:
    like = read_volume(write_volume(tmp_path / "in.nii.gz", volume(), oblique()))
    cases = [
        ((tmp_path / "out.nii.gz", volume((6, 7, 9))), {"like": like}, "but like=in.nii.gz has (6, 7, 8)"),
        ((tmp_path / "out.mha", volume().astype(np.complex64), oblique()), {}, "cannot store dtype complex64"),
        ((tmp_path / "out.mha", np.zeros((4, 4))), {"like": like}, "not (z, y, x)"),
        ((tmp_path / "out.mha", volume()), {}, "needs a geometry or like="),
        ((tmp_path / "out.png", volume(), oblique()), {}, "unsupported volume extension '.png'"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(UnetzooError, match=message.replace("(", r"\(").replace(")", r"\)")):
            write_volume(*args, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nii.gz"]


_FILL_DISK = """
import resource, signal, sys
import numpy as np
from unetzoo.errors import UnetzooError
from unetzoo.volumes import Geometry, write_volume
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit write() fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
big = np.random.default_rng(0).integers(0, 2**15, (40, 64, 64), dtype=np.int16)  # 320 kB, incompressible
try:
    write_volume(sys.argv[1], big, Geometry((1, 1, 1), (0, 0, 0)))
except UnetzooError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("ending", [".nii", ".nii.gz", ".mha", ".mhd", ".nrrd"])
def test_failed_write_leaves_previous_file_intact(tmp_path: Path, ending: str) -> None:
    """A write that fails half-way (the file-size limit standing in for a full disk) raises the one-line
    error, leaves the previous file byte for byte, and no temporary file behind."""
    path = write_volume(tmp_path / f"pred{ending}", volume((4, 5, 6), "uint8"), oblique())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    env = {**os.environ, "PYTHONPATH": SRC}
    run = subprocess.run([sys.executable, "-c", _FILL_DISK, str(path)], capture_output=True, text=True, env=env)
    assert run.returncode == 3, run.stderr
    assert run.stdout.startswith(str(path)) and run.stdout.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    np.testing.assert_array_equal(read_volume(path).array, volume((4, 5, 6), "uint8"))


_NO_BACKENDS = """
import sys
for name in ("nibabel", "SimpleITK", "nrrd"):
    sys.modules[name] = None  # as if not installed
import unetzoo, unetzoo.volumes
from unetzoo.volumes import Geometry, read_volume
from unetzoo.errors import UnetzooError
assert Geometry((1, 1, 1), (0, 0, 0)).to_affine()[3, 3] == 1
for path in sys.argv[1:]:
    try:
        read_volume(path)
    except UnetzooError as exc:
        print(exc)
"""


def test_missing_optional_dependencies(tmp_path: Path) -> None:
    paths = [NIBABEL_DATA / "anatomical.nii", write_volume(tmp_path / "a.mha", volume(), oblique())]
    paths.append(write_volume(tmp_path / "a.nrrd", volume(), oblique()))
    env = {**os.environ, "PYTHONPATH": SRC}
    run = subprocess.run(
        [sys.executable, "-c", _NO_BACKENDS, *map(str, paths)], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines == [
        f"{paths[0]}: nifti volumes need nibabel, which is not installed; pip install 'unetzoo[volumes]'",
        f"{paths[1]}: metaimage volumes need SimpleITK, which is not installed; pip install 'unetzoo[volumes]'",
        f"{paths[2]}: nrrd volumes need pynrrd, which is not installed; pip install 'unetzoo[volumes]'",
    ]
