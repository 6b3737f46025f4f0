"""The torch-free runtime: NumPy twins of preprocessing and tiling, parity with the torch engine, no torch import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from deploy_ckpt import MakeCheckpoint

from unetzoo.data import Preprocess
from unetzoo.deploy import tiling
from unetzoo.deploy.export import export_model
from unetzoo.deploy.preprocess import preprocess
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.engine import sliding_window as torch_tiling
from unetzoo.engine.inference import Segmenter
from unetzoo.layers.padding import mirror_pad

SRC = Path(__file__).resolve().parents[2] / "src"
RNG = np.random.default_rng(0)
IMAGES = {
    "gray8": (RNG.random((21, 30)) * 255).astype(np.uint8),
    "rgb8": (RNG.random((21, 30, 3)) * 255).astype(np.uint8),
    "rgba8": (RNG.random((21, 30, 4)) * 255).astype(np.uint8),
    "gray16": (RNG.random((21, 30, 1)) * 60000).astype(np.uint16),
    "flat": np.full((8, 9, 3), 7, np.uint8),
    "dark_objects": 255 - (RNG.random((21, 30)) ** 4 * 255).astype(np.uint8),  # negatively skewed: flipped
}


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("normalize", ["zscore", "zscore_polarity", "nonzero", "minmax", "none", "dataset"])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_preprocess_is_bit_identical_to_the_data_package(image: str, normalize: str, channels: int | None) -> None:
    stats = {"mean": [10.0, 20.0, 30.0][: channels or 3], "std": [2.0, 0.0, 5.0][: channels or 3]}
    record = {"normalize": normalize, "channels": channels, **(stats if normalize == "dataset" else {})}
    record.setdefault("mean", None)
    record.setdefault("std", None)
    raw = IMAGES[image]
    try:
        expected = Preprocess.from_dict(record)(raw)
    except Exception as exc:  # the same inputs must fail the same way
        with pytest.raises(type(exc)):
            preprocess(raw, record)
        return
    out = preprocess(raw, record)
    assert out.dtype == expected.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape", [(5, 7), (1, 6), (6, 1), (2, 2)])
@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 2, 3, 0), (9, 4, 13, 21)])
def test_mirror_pad_matches_torch(shape: tuple[int, int], pads: tuple[int, int, int, int]) -> None:
    x = np.arange(2 * np.prod(shape), dtype=np.float32).reshape(1, 2, *shape)
    expected = mirror_pad(torch.from_numpy(x), *pads).numpy()
    np.testing.assert_array_equal(tiling.mirror_pad(x, *pads), expected)


def test_numpy_tiling_matches_torch() -> None:
    """Same blending and flips on both array libraries; activations and labels agree."""
    image = RNG.normal(size=(2, 70, 90)).astype(np.float32)

    def predictor(x: np.ndarray) -> np.ndarray:
        return x[:, :1] * 0.5 + x[:, 1:] * x[:, 1:]

    def torch_predictor(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(predictor(x.numpy()))

    for tta in (False, True):
        ours = tiling.with_flip_tta(predictor) if tta else predictor
        theirs = torch_tiling.with_flip_tta(torch_predictor) if tta else torch_predictor
        np.testing.assert_allclose(
            tiling.sliding_window(ours, image, tile=(32, 48), overlap=0.4, batch_size=3),
            torch_tiling.sliding_window(theirs, torch.from_numpy(image), tile=(32, 48), overlap=0.4, batch_size=3),
            rtol=1e-6,
            atol=1e-6,
        )
    logits = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32) * 30
    for k in (1, 3):
        probs = torch_tiling.probabilities(torch.from_numpy(logits[:, :k]))
        np.testing.assert_allclose(tiling.probabilities(logits[:, :k]), probs.numpy(), atol=1e-7)
        labels = torch_tiling.to_labels(probs, 0.4).numpy()
        np.testing.assert_array_equal(tiling.to_labels(probs.numpy(), 0.4), labels)


@pytest.mark.parametrize(("name", "classes", "tta"), [("ulite", 1, True), ("unet", 3, False)])
def test_onnx_segmenter_matches_torch_segmenter(
    name: str, classes: int, tta: bool, make_checkpoint: MakeCheckpoint, tmp_path: Path
) -> None:
    """Tiled (Gaussian-blended), optionally flip-TTA prediction: same probabilities and masks as torch."""
    ckpt = make_checkpoint(name, preset="same" if name == "unet" else None, in_channels=3, classes=classes,
                           widths=(8, 16, 32) if name == "unet" else None)  # fmt: skip
    onnx_path = export_model(ckpt, "onnx", tmp_path / "m.onnx")
    options = {"tile": (48, 64), "overlap": 0.25, "tta": tta}
    image = (RNG.random((70, 100, 3)) * 255).astype(np.uint8)
    expected = Segmenter.from_checkpoint(ckpt, **options).probabilities(image).numpy()
    seg = OnnxSegmenter(onnx_path, **options)
    probs = seg.probabilities(image)
    assert probs.shape == (classes, 70, 100)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    mask = seg.predict(image)
    assert mask.dtype == np.int64 and mask.shape == (70, 100)
    np.testing.assert_array_equal(mask, seg.labels(expected))


def _run_without_torch(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import torch`` (and anything importing it) fails."""
    prelude = "import sys\nsys.modules['torch'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )


def test_runtime_runs_without_torch(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    """The runtime modules never import torch: a model runs end to end with torch blocked.

    The top-level ``unetzoo`` package is stood in for by an empty package object, so this checks the deploy
    modules' own imports; the next test imports them through the package.
    """
    onnx_path = export_model(make_checkpoint("unet_sharp", level=1, in_channels=3), "onnx", tmp_path / "m.onnx")
    result = _run_without_torch(
        f"""
        import types, numpy as np
        pkg = types.ModuleType("unetzoo"); pkg.__path__ = [{str(SRC / "unetzoo")!r}]
        sys.modules["unetzoo"] = pkg
        from unetzoo.deploy.runtime import OnnxSegmenter
        mask = OnnxSegmenter({str(onnx_path)!r}, tile=(32, 32), tta=True).predict(np.zeros((40, 50, 3), np.uint8))
        assert mask.shape == (40, 50), mask.shape
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m] is not None)
        print("ok")
        """
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_import_unetzoo_deploy_runtime_without_torch() -> None:
    result = _run_without_torch("import unetzoo.deploy.runtime\nprint('ok')")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


@pytest.mark.shared_data
def test_isbi_slices_export_predict_compare(shared_data: Path, make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    """Real EM slices (ISBI 2012, 512 x 512): ONNX masks equal eager masks, tiled and with flip TTA."""
    from unetzoo.data.io import read_image

    ckpt = make_checkpoint("ulite", in_channels=1, classes=1)
    onnx_path = export_model(ckpt, "onnx", tmp_path / "ulite.onnx")
    cases = [("00.png", (slice(None), slice(None)), True), ("29.png", (slice(0, 256), slice(100, 420)), False)]
    for name, window, tta in cases:  # a full slice tiled with TTA, and a crop in one pass without
        image = read_image(shared_data / "isbi2012" / "images" / name)[window]
        options = {"tile": (256, 256), "overlap": 0.25, "tta": tta}
        expected = Segmenter.from_checkpoint(ckpt, **options).probabilities(image).numpy()
        seg = OnnxSegmenter(onnx_path, **options)
        probs = seg.probabilities(image)
        assert np.abs(probs - expected).max() <= 1e-5
        borderline = np.abs(expected[0] - 0.5) < 1e-5  # pixels a rounding error may flip
        assert (seg.labels(probs) != seg.labels(expected))[~borderline].sum() == 0
