"""The model card, and bad input: tampered, truncated or foreign model files, wrong channel counts."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from deploy_ckpt import write_checkpoint
from onnx import TensorProto, helper

import unetzoo
from unetzoo.deploy.card import card_path, read_card
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.errors import UnetzooError


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny UNet# (level 1, 3 channels) exported once for this module."""
    root = tmp_path_factory.mktemp("card")
    ckpt = write_checkpoint(root / "m.pt", "unet_sharp", in_channels=3, classes=1, level=1)
    return export_model(ckpt, "onnx", root / "m.onnx")


@pytest.fixture
def copy_of(exported: Path, tmp_path: Path) -> Path:
    """A private copy of the exported model and its card."""
    dest = tmp_path / exported.name
    shutil.copy(exported, dest)
    shutil.copy(card_path(exported), card_path(dest))
    return dest


def test_card_keys_and_sha256(exported: Path) -> None:
    card = json.loads(card_path(exported).read_text())
    assert card_path(exported).name == "m.onnx.json"
    assert card["sha256"] == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert card["model"] == "unet_sharp" and card["model_kwargs"] == {"level": 1}
    assert (card["classes"], card["in_channels"], card["class_names"]) == (1, 3, ["background", "class1"])
    assert card["preprocess"] == {"normalize": "zscore", "channels": 3, "mean": None, "std": None}
    assert card["threshold"] == 0.5
    assert card["input_multiple"] == 2 and card["padding"] == {"rule": "multiple", "multiple": 2, "minimum": 4}
    assert card["params"] == 103_041
    reference = unetzoo.profile(unetzoo.create_model("unet_sharp", level=1), (3, 256, 256), memory=False)
    assert card["gmacs"] == pytest.approx(reference.gmacs, abs=1e-4)
    assert card["metrics"] == {"dice": 0.91, "iou": pytest.approx(0.84)}
    assert card["unetzoo_version"] == unetzoo.__version__ and card["opset"] == 17
    assert card["torch_version"] and card["int8"] is None
    assert card["export_check_max_abs_diff"] < 1e-4
    assert read_card(exported)["sha256"] == card["sha256"]
    metadata = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert metadata["unetzoo.model"] == "unet_sharp"


def test_tampered_model_is_refused(copy_of: Path) -> None:
    data = bytearray(copy_of.read_bytes())
    data[-10] ^= 0xFF
    copy_of.write_bytes(bytes(data))
    with pytest.raises(UnetzooError, match=r"sha256 .* does not match its model card"):
        OnnxSegmenter(copy_of)


def test_truncated_model_is_refused(copy_of: Path) -> None:
    copy_of.write_bytes(copy_of.read_bytes()[:5000])
    with pytest.raises(UnetzooError, match="does not match its model card"):
        OnnxSegmenter(copy_of)
    card = json.loads(card_path(copy_of).read_text())  # even with a card that matches the truncated file
    card["sha256"] = hashlib.sha256(copy_of.read_bytes()).hexdigest()
    card_path(copy_of).write_text(json.dumps(card))
    with pytest.raises(UnetzooError, match="not a loadable ONNX model"):
        OnnxSegmenter(copy_of)


def _foreign_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "foreign", [x], [y])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_foreign_onnx_is_refused(copy_of: Path, tmp_path: Path) -> None:
    with pytest.raises(UnetzooError, match="model card not found"):
        OnnxSegmenter(_foreign_model(tmp_path / "foreign.onnx"))
    _foreign_model(copy_of)  # a foreign model under an exported model's card (sha updated): wrong signature
    card = json.loads(card_path(copy_of).read_text())
    card["sha256"] = hashlib.sha256(copy_of.read_bytes()).hexdigest()
    card_path(copy_of).write_text(json.dumps(card))
    with pytest.raises(UnetzooError, match="not the card's"):
        OnnxSegmenter(copy_of)


def test_bad_cards_are_refused(copy_of: Path) -> None:
    card_path(copy_of).write_text("{not json")
    with pytest.raises(UnetzooError, match="unreadable model card"):
        OnnxSegmenter(copy_of)
    card_path(copy_of).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(UnetzooError, match="not a unetzoo model card"):
        OnnxSegmenter(copy_of)
    with pytest.raises(UnetzooError, match="model file not found"):
        OnnxSegmenter(copy_of.with_name("missing.onnx"))


def test_channels_convert_as_in_training_or_are_refused(exported: Path) -> None:
    seg = OnnxSegmenter(exported)
    with pytest.raises(UnetzooError, match=r"two.tif: has 2 channel\(s\) but the model expects 3"):  # as torch
        seg.predict(np.zeros((32, 32, 2), np.uint8), "two.tif")
    gray = np.random.default_rng(0).integers(0, 256, (20, 24), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)  # a gray image in an RGB dataset, as training stores it
    np.testing.assert_array_equal(seg.probabilities(gray), seg.probabilities(rgb))
