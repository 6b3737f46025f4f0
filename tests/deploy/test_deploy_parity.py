"""Export -> onnxruntime parity with eager logits for every registered model (dynamic batch, H and W)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from deploy_ckpt import MakeCheckpoint

import unetzoo
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from unetzoo.errors import UnetzooError
from unetzoo.models import Supports

MODELS = unetzoo.list_models()
with torch.device("meta"):  # built without weights: only the class's Supports flags are read
    EXPORTABLE = [n for n in MODELS if unetzoo.create_model(n).supports.onnx]
TOLERANCE = 1e-4
SHAPES = [(1, 1, 64, 64), (2, 1, 72, 88)]  # a non-multiple size proves dynamic H/W


def _eager_and_onnx(path: Path, onnx_path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Eager ``model(x)`` of the checkpoint and the runtime's logits (its own padding/crop) on one input."""
    model = model_from_checkpoint(load_checkpoint(path))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x).numpy()
    out = OnnxSegmenter(onnx_path).logits(x.numpy())
    return ref, out


@pytest.mark.parametrize("name", EXPORTABLE)
def test_onnx_matches_eager(name: str, make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint(name, in_channels=1, classes=1)
    onnx_path = export_model(ckpt, "onnx", tmp_path / f"{name}.onnx")
    for shape in SHAPES:
        ref, out = _eager_and_onnx(ckpt, onnx_path, shape)
        assert out.shape == ref.shape == (shape[0], 1, *shape[2:])
        assert np.abs(out - ref).max() <= TOLERANCE, f"{name} {shape}: {np.abs(out - ref).max():.2e}"


def test_model_without_onnx_support_is_refused(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unetzoo.models.ulite import ULite

    monkeypatch.setattr(ULite, "supports", Supports(onnx=False))
    with pytest.raises(UnetzooError, match="does not export to ONNX"):
        export_model(make_checkpoint("ulite", in_channels=3), "onnx", tmp_path / "m.onnx")


@pytest.mark.parametrize("has_object", [False, True])
@pytest.mark.parametrize("cgm", [True, "paper"])
def test_trained_cgm_gating_and_multiclass_export(
    make_checkpoint: MakeCheckpoint, tmp_path: Path, cgm: object, has_object: bool
) -> None:
    ckpt = make_checkpoint("unet_sharp", in_channels=3, classes=3, level=2, cgm=cgm)
    payload = load_checkpoint(ckpt)
    state = payload["state_dict"]
    state["cgm.trained_steps"] = torch.tensor(1)  # gating applies to a trained CGM only
    last = "cgm.classifier.1" if cgm is True else "cgm.classifiers.x0_2.3"  # the CGM's last conv / Linear
    state[f"{last}.weight"] = torch.zeros_like(state[f"{last}.weight"])
    state[f"{last}.bias"] = torch.tensor([-50.0, 50.0] if has_object else [50.0, -50.0])
    save_checkpoint(ckpt, payload)
    onnx_path = export_model(ckpt, "onnx", tmp_path / "cgm.onnx")
    ref, out = _eager_and_onnx(ckpt, onnx_path, (2, 3, 40, 56))
    assert np.abs(out - ref).max() <= TOLERANCE
    assert (ref == -20.0).all() != has_object and not (has_object and (ref == -20.0).any())


def test_pruned_unet_sharp_drops_deep_supervision(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    import onnx

    ckpt = make_checkpoint("unet_sharp", level=3, deep_supervision=True)
    onnx_path = export_model(ckpt, "onnx", tmp_path / "l2.onnx", prune_level=2)
    model = model_from_checkpoint(load_checkpoint(ckpt)).prune(2).eval()
    x = torch.randn(1, 1, 48, 40)
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(OnnxSegmenter(onnx_path).logits(x.numpy()) - ref).max() <= TOLERANCE
    graph = onnx.load(str(onnx_path)).graph
    assert len(graph.output) == 1
    weights = sum(int(np.prod(t.dims)) for t in graph.initializer)
    assert weights < unetzoo.count_params(model)  # BN folded away, no side heads, no level-3 nodes


def test_prune_level_errors(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    with pytest.raises(UnetzooError, match="no pruning levels"):
        export_model(make_checkpoint("ulite", in_channels=3), "onnx", tmp_path / "a.onnx", prune_level=1)
    with pytest.raises(UnetzooError, match="prune-level"):
        export_model(make_checkpoint("unet_sharp", level=2), "onnx", tmp_path / "b.onnx", prune_level=1)


def test_torchscript_export_is_dynamic(make_checkpoint: MakeCheckpoint, tmp_path: Path) -> None:
    ckpt = make_checkpoint("sd_unet")
    path = export_model(ckpt, "torchscript", tmp_path / "sd.pt")
    traced = torch.jit.load(str(path))
    model = model_from_checkpoint(load_checkpoint(ckpt))
    x = torch.randn(2, 1, 48, 80)  # valid size for the multiple-16 net, not the traced one
    with torch.no_grad():
        assert (traced(x) - model.forward_padded(x)).abs().max() <= TOLERANCE
