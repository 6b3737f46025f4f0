"""INT8 static quantization: calibration from a folder of images or a dataset spec, card, runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from deploy_ckpt import MakeCheckpoint
from PIL import Image

from unetzoo.deploy.card import card_path
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.errors import UnetzooError


def _image_folder(root: Path, n: int = 3) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(n):
        Image.fromarray((rng.random((40 + 8 * i, 52)) * 255).astype(np.uint8)).save(root / f"img{i}.png")
    return root


def test_int8_export_and_run(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("unet_sharp", level=2, in_channels=1)
    fp32 = export_model(ckpt, "onnx", tmp_path / "fp32.onnx")
    int8 = export_model(ckpt, "onnx", tmp_path / "int8.onnx", int8=True, calibration=_image_folder(tmp_path / "cal"))
    card = json.loads(card_path(int8).read_text())
    assert card["int8"]["calibration_images"] == 3 and "QDQ" in card["int8"]["scheme"]
    assert int8.stat().st_size < 0.45 * fp32.stat().st_size
    image = (np.random.default_rng(1).random((64, 80)) * 255).astype(np.uint8)
    p32, p8 = OnnxSegmenter(fp32).probabilities(image), OnnxSegmenter(int8).probabilities(image)
    assert p8.shape == p32.shape and np.abs(p8 - p32).mean() < 0.02


def test_int8_calibrates_on_a_dataset_spec(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("unet_sharp", level=1, in_channels=3)
    out = export_model(ckpt, "onnx", tmp_path / "q.onnx", int8=True, calibration="synthetic:nuclei?n=2&size=48")
    assert json.loads(card_path(out).read_text())["int8"]["calibration_images"] == 2
    assert OnnxSegmenter(out).predict(np.zeros((30, 30, 3), np.uint8)).shape == (30, 30)


def test_int8_option_errors(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("unet_sharp", level=1)
    with pytest.raises(UnetzooError, match="needs --calibration"):
        export_model(ckpt, "onnx", tmp_path / "a.onnx", int8=True)
    with pytest.raises(UnetzooError, match="needs --format onnx"):
        export_model(ckpt, "torchscript", tmp_path / "a.pt", int8=True, calibration=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnetzooError, match="no calibration images"):
        export_model(ckpt, "onnx", tmp_path / "b.onnx", int8=True, calibration=tmp_path / "empty")
    assert not (tmp_path / "b.onnx").exists() and not (tmp_path / "b.onnx.json").exists()


def test_ulite_fp32_merges_axial_pairs_and_int8_keeps_them(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    """fp32 runs one 7x7 depthwise conv per axial pair; INT8 keeps the two thin ones (fewer int8 taps)."""
    import onnx

    ckpt = make_checkpoint("ulite", in_channels=1)
    fp32 = export_model(ckpt, "onnx", tmp_path / "fp32.onnx")
    int8 = export_model(ckpt, "onnx", tmp_path / "int8.onnx", int8=True, calibration=_image_folder(tmp_path / "cal"))

    def depthwise_kernels(path: Path) -> set[tuple[int, ...]]:
        graph = onnx.load(str(path)).graph
        shapes = {i.name: tuple(i.dims) for i in graph.initializer}
        dequantized = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
        kernels = set()
        for node in graph.node:
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            if node.op_type == "Conv" and group > 1:
                weight = dequantized.get(node.input[1], node.input[1])  # QDQ: the int8 weight behind its DQ
                kernels.add(shapes[weight][2:])
        return kernels

    assert json.loads(card_path(fp32).read_text())["rewrites"]["axial_merged"] == 13
    assert json.loads(card_path(int8).read_text())["rewrites"]["axial_merged"] == 0
    assert (7, 7) in depthwise_kernels(fp32) and (7, 1) not in depthwise_kernels(fp32)
    assert {(7, 1), (1, 7)} <= depthwise_kernels(int8) and (7, 7) not in depthwise_kernels(int8)
    image = (np.random.default_rng(1).random((64, 80)) * 255).astype(np.uint8)
    p32, p8 = OnnxSegmenter(fp32).probabilities(image), OnnxSegmenter(int8).probabilities(image)
    assert np.abs(p8 - p32).mean() < 0.02
