"""Hostile and broken input, fuzzed with hypothesis: random bytes and mutated real PNG/TIFF files.

Targets: the loader (``read_image``), a dataset folder (``open_source`` + ``load``) and ``unetzoo predict`` (in
process, through ``unetzoo.cli.main``). Allowed outcomes: a correct result, or the project's own error
(``UnetzooError``; for the CLI a one-line ``unetzoo: error:`` and a non-zero exit). Anything else -- another
exception, a traceback, or an example running over ``EXAMPLE_SECONDS`` (a hang) -- fails the test.

Examples are derandomized (the same cases in every CI run); ``UNETZOO_FUZZ_SCALE=10`` runs ten times more.
Each test prints how many cases ran (``pytest -s``); docs/reliability.md records the counts.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import unetzoo
from unetzoo.cli import main
from unetzoo.data import open_source
from unetzoo.data.io import MAX_PIXELS, read_image, read_stack_slice, write_image
from unetzoo.errors import UnetzooError

SCALE = int(os.environ.get("UNETZOO_FUZZ_SCALE", "1"))
EXAMPLE_SECONDS = 20
NUCLEI = Path(unetzoo.__file__).parent / "data" / "builtin" / "nuclei" / "images"
EXTENSIONS = (".png", ".tif", ".jpg", ".bmp", ".gif")
MAGIC = (b"", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"II+\x00", b"\xff\xd8\xff", b"BM", b"GIF89a")


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,  # time is bounded by _time_limit instead (a hang never returns to hypothesis)
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise TimeoutError(f"example still running after {seconds}s: a hang")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- seeds: small synthetic files of every supported kind, real microscopy PNGs -----------------------------------
def _synthetic_seeds(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    gray = (rng.random((40, 48)) * 255).astype(np.uint8)
    rgb = (rng.random((36, 44, 3)) * 255).astype(np.uint8)
    arrays = {
        "gray.png": gray,
        "rgb.png": rgb,
        "gray16.png": (gray.astype(np.uint16) * 257),
        "gray16.tif": (gray.astype(np.uint16) * 257),
        "float.tif": gray.astype(np.float32) / 255,
        "rgb.tif": rgb,
        "stack.tif": np.stack([gray, gray[::-1], gray[:, ::-1]]),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_image(folder / name, array)
    for name, fmt in (("gray.jpg", "JPEG"), ("rgb.bmp", "BMP"), ("pal.gif", "GIF")):
        Image.fromarray(rgb if fmt != "JPEG" else gray).save(folder / name, format=fmt)
    return sorted(folder.iterdir())


def _real_seeds(request: pytest.FixtureRequest) -> list[Path]:
    """Two bundled DSB nuclei PNGs, plus ISBI 2012 slices and small DSB images when ../shared/data is there."""
    seeds = sorted(NUCLEI.glob("*.png"))[:2]
    try:
        shared: Path = request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        return seeds
    seeds += sorted((shared / "isbi2012" / "images").glob("*.png"))[:2]
    small = [p for p in sorted((shared / "dsb2018" / "images").glob("*.png"))[:40] if p.stat().st_size < 150_000]
    return seeds + small[:2]


@pytest.fixture(scope="module")
def seeds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    paths = _synthetic_seeds(tmp_path_factory.mktemp("seeds")) + _real_seeds(request)
    return [(p.suffix.lower(), p.read_bytes()) for p in paths]


def _fix_png_crcs(data: bytearray) -> None:
    """Recompute every PNG chunk CRC, so a mutated header is parsed instead of rejected at the checksum."""
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 8 + length
        if end + 4 > len(data):
            return
        data[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(data[pos + 4 : end])))
        pos = end + 4


@st.composite
def mutated(draw: st.DrawFn, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """A seed file with 0-3 mutations, biased towards the header where the parsers decide what to allocate."""
    suffix, original = draw(st.sampled_from(seeds))
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "int32"]))
        limit = len(data) if draw(st.booleans()) else min(len(data), 256)
        pos = draw(st.integers(0, max(limit - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            blob = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(blob)] = blob
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        else:  # a width/height/offset/count-sized field set to an extreme value
            value = draw(st.sampled_from([0, 1, 0x7FFF, 0xFFFF, 100_000, 0x7FFFFFFF, 0xFFFFFFFF]))
            data[pos : pos + 4] = struct.pack(draw(st.sampled_from([">I", "<I"])), value)
    if suffix == ".png" and draw(st.booleans()):
        _fix_png_crcs(data)
    return suffix, bytes(data)


random_files = st.tuples(
    st.sampled_from(EXTENSIONS), st.tuples(st.sampled_from(MAGIC), st.binary(max_size=2048)).map(b"".join)
)


def _check_image(array: np.ndarray) -> None:
    assert isinstance(array, np.ndarray) and array.ndim in (2, 3) and array.size > 0
    assert array.shape[0] * array.shape[1] <= MAX_PIXELS


def _report(capsys: pytest.CaptureFixture[str], name: str, outcomes: Counter[str]) -> None:
    with capsys.disabled():
        print(f"\nfuzz {name}: {sum(outcomes.values())} cases ({dict(outcomes)})")


def test_fuzz_read_image(seeds: list[tuple[str, bytes]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes: Counter[str] = Counter()

    @_settings(500)
    @given(st.one_of(mutated(seeds), random_files))
    def case(file: tuple[str, bytes]) -> None:
        suffix, data = file
        path = tmp_path / f"x{suffix}"
        path.write_bytes(data)
        with _time_limit(EXAMPLE_SECONDS):
            try:
                _check_image(read_image(path))
                outcomes["image"] += 1
            except UnetzooError:
                outcomes["UnetzooError"] += 1

    case()
    _report(capsys, "read_image", outcomes)
    assert sum(outcomes.values()) >= 500 * SCALE and outcomes["image"] and outcomes["UnetzooError"]


def test_fuzz_open_source_folder(
    seeds: list[tuple[str, bytes]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes: Counter[str] = Counter()
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 12:36] = 255

    @_settings(150)
    @given(st.one_of(mutated(seeds), random_files), st.booleans())
    def case(file: tuple[str, bytes], hostile_mask: bool) -> None:
        suffix, data = file
        root = tmp_path / "ds"
        shutil.rmtree(root, ignore_errors=True)
        (root / "images").mkdir(parents=True)
        (root / "masks").mkdir()
        write_image(root / "images" / "good.png", (mask // 2).astype(np.uint8))
        write_image(root / "masks" / "good.png", mask)
        hostile = root / ("masks" if hostile_mask else "images") / f"a{suffix}"
        hostile.write_bytes(data)
        try:  # the partner file fits the hostile one when that one decodes, so the pair can load
            shape = read_image(hostile).shape[:2]
        except UnetzooError:
            shape = mask.shape
        partner = np.zeros(shape, np.uint8)
        partner[: shape[0] // 2] = 255
        write_image(root / ("images" if hostile_mask else "masks") / "a.png", partner)
        with _time_limit(EXAMPLE_SECONDS):
            try:
                source = open_source(root)
                for i in range(len(source)):
                    image, target = source.load(i)
                    _check_image(image)
                    assert target.shape == image.shape[:2]
                outcomes["loaded"] += 1
            except UnetzooError:
                outcomes["UnetzooError"] += 1

    case()
    _report(capsys, "open_source", outcomes)
    assert sum(outcomes.values()) >= 150 * SCALE and outcomes["UnetzooError"]


def test_fuzz_predict_cli(
    seeds: list[tuple[str, bytes]], gray_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes: Counter[str] = Counter()
    small = [(suffix, data) for suffix, data in seeds if len(data) < 100_000]  # keep each forward pass short

    @_settings(200)
    @given(st.one_of(mutated(small), random_files))
    def case(file: tuple[str, bytes]) -> None:
        suffix, data = file
        src, out = tmp_path / "in", tmp_path / "out"
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        src.mkdir()
        (src / f"x{suffix}").write_bytes(data)
        stderr, stdout = io.StringIO(), io.StringIO()
        argv = ["predict", "--checkpoint", str(gray_checkpoint), str(src), "--out", str(out), "--tile", "256"]
        with _time_limit(EXAMPLE_SECONDS), contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse; not expected with these arguments
                code = exc.code if isinstance(exc.code, int) else 2
        err = stderr.getvalue().strip()
        if code == 0:
            written = sorted(out.iterdir())
            assert len(written) == 1 and written[0].stem == "x", written
            _check_image(read_image(written[0])) if written[0].suffix == ".png" else tifffile.imread(written[0])
            outcomes["segmented"] += 1
        else:
            assert code > 0 and len(err.splitlines()) == 1 and err.startswith("unetzoo: error: "), err
            assert not out.exists() or not any(out.iterdir()), "a failed input must not leave an output"
            outcomes[f"exit {code}"] += 1

    case()
    _report(capsys, "predict", outcomes)
    assert sum(outcomes.values()) >= 200 * SCALE and outcomes["segmented"] and outcomes["exit 1"]


# What the fuzzer found (shrunk to 200 bytes): a TIFF whose corrupt IFD chain made tifffile's lazy page walk run
# without end (read_image hung), and whose first page decodes to an empty array (predict raised IndexError).
CORRUPT_TIFF = bytes.fromhex(
    "49492a00080000000f0000010400010000002c0000000101040001000000240000000201030003000000c2000000000000000000"
    "00000301030001000000080000000601030001000000020000000e01020017000000c80000001101040001000000100100001501"
    "0300010000000300000016010400010000002400000017010400010000009b1200001a01050001000000ee0000001b0105000100"
    "0000f60000001c0103000100000001000000280103000100000001000000310102000c000000fe0000000000"
)


def test_fuzz_findings_stay_fixed(gray_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in" / "x.tif"
    path.parent.mkdir()
    path.write_bytes(CORRUPT_TIFF)
    with _time_limit(EXAMPLE_SECONDS):
        with pytest.raises(UnetzooError, match="decodes to shape"):
            read_image(path)
        with pytest.raises(UnetzooError, match=r"slice 0: decodes to shape \(0,\)"):
            read_stack_slice(path, 0)
        argv = ["predict", "--checkpoint", str(gray_checkpoint), str(path.parent), "--out", str(tmp_path / "o")]
        assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "decodes to shape" in err
