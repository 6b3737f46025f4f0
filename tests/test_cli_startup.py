"""The command line starts light: building its parser (``unetzoo --help``, every argparse error) imports no
heavy library, so the commands that need none of them do not pay for their import (0.76 -> 0.28 s for
``unetzoo --help``; docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "scipy", "skimage", "onnxruntime", "matplotlib")


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\nfrom unetzoo.cli import build_parser\nbuild_parser()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m, v in sys.modules.items() if v is not None})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(SRC)}
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "unetzoo" in loaded and not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_predicting_masks_with_the_onnx_runtime_imports_neither_scipy_nor_torch(tmp_path: Path) -> None:
    """``unetzoo predict --model nuclei --engine onnx`` writing masks at a given object size needs none of the
    training or object-decoding libraries (their import doubled the time of a one-image command)."""
    from unetzoo.data.formats import BUILTIN_DIR

    image = sorted((BUILTIN_DIR / "nuclei" / "images").iterdir())[0]
    code = (
        "import json, sys\nfrom unetzoo.cli import main\n"
        f"status = main(['predict', {str(image)!r}, '--model', 'nuclei', '--engine', 'onnx', '--object-size', '20',"
        f" '--out', {str(tmp_path / 'out')!r}])\n"
        "print(json.dumps([status, sorted({m.split('.')[0] for m, v in sys.modules.items() if v is not None})]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(SRC)}
    )
    assert result.returncode == 0, result.stderr
    status, loaded = json.loads(result.stdout.splitlines()[-1])
    assert status == 0 and (tmp_path / "out" / f"{image.stem}.png").is_file()
    assert not set(loaded) & {"torch", "scipy", "skimage", "matplotlib"}, sorted(loaded)
