"""Export a checkpoint to ONNX (fp32 or INT8) or TorchScript, with a model card beside it.

What is exported is the network of ``forward_padded``, after inference-time rewrites that keep its
function: UNet# pruned to the chosen level, SD-UNet's weight standardization folded into plain weights,
U-Lite's axial depthwise pairs merged into one k x k depthwise conv, BatchNorm folded into the convolution
next to it (:mod:`unetzoo.deploy.optimize`), GroupNorm written in a
numerically stable two-pass form (ONNX only), eval mode (deep-supervision heads and dropout unused).
Batch, height and width are dynamic. The runtime does the mirror padding to a valid size and the crop
back in NumPy from the card's padding rule, because under tracing the padding amounts that ``forward``
computes with Python integers would become constants.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``, chosen deliberately over
torch 2.13's default ``dynamo=True``: with dynamic H and W it exports and matches eager for every
registered model, while torch.export fails on ``unet_wide`` and ``unetpp`` (data-dependent guards in
the shape arithmetic of skip alignment) and takes 3-10x longer. Every export is checked: onnxruntime
(or the reloaded TorchScript module) must reproduce eager logits at another size and batch than traced.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unetzoo.bench.profile import Profile, profile
from unetzoo.deploy.card import CARD_FORMAT, CARD_VERSION, card_path
from unetzoo.deploy.fold import replace_group_norms
from unetzoo.deploy.optimize import optimize_for_inference
from unetzoo.deploy.preprocess import check_record
from unetzoo.deploy.tiling import side_padding
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.errors import UnetzooError
from unetzoo.layers.reparam import as_defined
from unetzoo.layers.separable import WSConv2d, fold_weight_standardization
from unetzoo.models import SegmentationModel
from unetzoo.utils.atomic import atomic_write_bytes, atomic_write_text
from unetzoo.utils.resample import Resampling

FORMATS = ("onnx", "torchscript")
INPUT_NAME, OUTPUT_NAME = "input", "logits"
CHECK_TOLERANCE = 1e-3
"""Largest max-abs logit difference an export may show against eager before it is refused (tests hold 1e-4)."""
GMACS_SIZE = 256
DEFAULT_OPSET = 17


class PaddedNetwork(nn.Module):
    """The part of a model that is exported: ``forward_padded`` on a valid-size input, logits only."""

    def __init__(self, model: SegmentationModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_padded(x)  # eval mode: the final logits, never the deep-supervision list


def padding_rule(model: SegmentationModel) -> dict[str, int | str]:
    """The card's padding rule reproducing ``model.padding_for`` / ``output_offset``, checked on many sizes.

    Raises:
        UnetzooError: the model pads in a way no rule of :mod:`unetzoo.deploy.tiling` describes.
    """
    step = model.input_multiple
    context = int(getattr(model, "context", 0) or 0)
    rule: dict[str, int | str]
    if context:  # valid convolutions lose ``shrink`` px per double conv: context = shrink * (3 step - 2) / 2
        shrink = 2 * context // (3 * step - 2)
        rule = {
            "rule": "overlap_tile",
            "step": step,
            "in_extra": shrink * (2 * step - 1),
            "out_shrink": shrink * (step - 1),
            "context": context,
        }
    else:
        rule = {"rule": "multiple", "multiple": step, "minimum": 2 * step}
    for size in range(1, 8 * step + 130):
        other = size % 97 + 1
        t, b, oy = side_padding(rule, size)
        lft, r, ox = side_padding(rule, other)
        pads = model.padding_for(size, other)
        if (t, b, lft, r) != tuple(pads) or (oy, ox) != tuple(model.output_offset(pads[0], pads[2])):
            raise UnetzooError(
                f"model {type(model).__name__} pads {size}x{other} px as {tuple(pads)}, which no runtime padding "
                "rule reproduces; it cannot be exported with dynamic sizes (list it in docs/deploy.md)"
            )
    return rule


def valid_input(model: SegmentationModel, height: int, width: int, batch: int = 1) -> torch.Tensor:
    """A random input of the valid size the model pads ``height`` x ``width`` to."""
    t, b, lft, r = model.padding_for(height, width)
    return torch.randn(batch, model.in_channels, height + t + b, width + lft + r)


def prepare(model: SegmentationModel, prune_level: int | None) -> SegmentationModel:
    """The eval-mode model to export: pruned to ``prune_level`` (UNet#) and with WS folded."""
    model.eval()
    if prune_level is not None:
        levels = model.supports.pruning_levels
        if not levels:
            raise UnetzooError(f"{type(model).__name__} has no pruning levels; drop --prune-level", exit_code=2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "CGM dropped": recorded in the card instead
                model = model.prune(prune_level)  # type: ignore[operator]
        except ValueError as exc:
            raise UnetzooError(f"--prune-level {prune_level}: {exc}", exit_code=2) from exc
    if any(isinstance(m, WSConv2d) for m in model.modules()):
        model = fold_weight_standardization(model)  # type: ignore[assignment]
    return model.eval()


def _cost(model: SegmentationModel) -> Profile:
    """``unetzoo.profile`` at 1 x C x 256 x 256, counted on the meta device (no arithmetic, same MACs)."""
    memo: dict[int, Any] = {id(b): b.to("meta") for b in model.buffers()}
    memo.update({id(p): nn.Parameter(p.detach().to("meta"), p.requires_grad) for p in model.parameters()})
    with torch.device("meta"):  # deepcopy with meta tensors in the memo: the weights are not copied
        return profile(copy.deepcopy(model, memo), (1, model.in_channels, GMACS_SIZE, GMACS_SIZE), memory=False)


def _jsonable(value: Any) -> Any:
    """Plain JSON data from checkpoint metrics (tensors and numpy scalars become floats; the rest is dropped)."""
    if isinstance(value, dict):
        return {str(k): v for k, v in ((k, _jsonable(v)) for k, v in value.items()) if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "item"):
        return value.item()
    return None


def _max_diff(run: Any, network: nn.Module, inputs: list[torch.Tensor]) -> float:
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            ref = network(x).numpy()
            out = run(x)
            if out.shape != ref.shape:
                return float("inf")
            worst = max(worst, float(abs(out - ref).max()))
    return worst


def _onnx_bytes(network: nn.Module, example: torch.Tensor, opset: int) -> bytes:
    buffer = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice and tracer warnings
        torch.onnx.export(
            network,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _stamp(data: bytes, metadata: dict[str, str]) -> bytes:
    """Set producer and metadata properties on a serialized ONNX model."""
    import onnx

    proto = onnx.load_from_string(data)
    proto.producer_name = "unetzoo"
    proto.producer_version = metadata["unetzoo_version"]
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=f"unetzoo.{key}", value=value)
    return proto.SerializeToString()


def _ort_runner(data: bytes) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {INPUT_NAME: x.numpy()})[0]


def _check_options(format: str, int8: bool, calibration: object) -> None:
    if format not in FORMATS:
        raise UnetzooError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}", exit_code=2)
    if int8 and format != "onnx":
        raise UnetzooError("--int8 needs --format onnx (INT8 goes through onnxruntime)", exit_code=2)
    if int8 and calibration is None:
        raise UnetzooError("--int8 needs --calibration PATH: a folder of images or a dataset", exit_code=2)


def _load(checkpoint: str | os.PathLike[str], format: str) -> tuple[dict[str, Any], SegmentationModel]:
    """The checkpoint payload and its eval-mode model; refuses models that cannot go to ``format``."""
    payload = load_checkpoint(checkpoint)
    model = model_from_checkpoint(payload, checkpoint)
    name = payload["model"]["name"]
    if format == "onnx" and not model.supports.onnx:
        raise UnetzooError(f"model {name!r} does not export to ONNX (see docs/deploy.md); try --format torchscript")
    if format == "torchscript" and not model.supports.traceable:
        raise UnetzooError(f"model {name!r} cannot be traced to TorchScript (see docs/deploy.md); try --format onnx")
    record = payload.get("preprocess")
    if not isinstance(record, dict):
        raise UnetzooError(f"{checkpoint}: no preprocessing record; re-train with this unetzoo version")
    check_record(record, str(checkpoint))
    return payload, model


def serialize(
    model: SegmentationModel, format: str, opset: int, metadata: dict[str, str], *, merge_axial: bool = True
) -> tuple[bytes, dict[str, Any]]:
    """The exported file's bytes, and the rewrites applied plus the measured max abs diff against eager.

    ``merge_axial=False`` keeps U-Lite's axial pairs as two thin depthwise convs (INT8 exports: onnxruntime's
    int8 depthwise kernels cost per kernel tap, and a merged 7x7 has 49 taps where the pair has 14).
    """
    with contextlib.nullcontext() if merge_axial else as_defined():
        return _serialize(model, format, opset, metadata, merge_axial)


def _serialize(
    model: SegmentationModel, format: str, opset: int, metadata: dict[str, str], merge_axial: bool
) -> tuple[bytes, dict[str, Any]]:
    example = valid_input(model, 2 * model.input_multiple, 2 * model.input_multiple)
    reference = PaddedNetwork(model).eval()
    network, rewrites = optimize_for_inference(reference, example, merge_axial=merge_axial)
    checks = [valid_input(model, 40, 100, batch=2)]  # not the traced size or batch, and H != W
    if format == "onnx":
        group_norms = replace_group_norms(network)
        data = _stamp(_onnx_bytes(network, example, opset), metadata)
        diff = _max_diff(_ort_runner(data), reference, checks)
    else:
        group_norms = 0
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings: the check below is the real test
            traced = torch.jit.trace(network, (example,), check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        data = buffer.getvalue()
        diff = _max_diff(lambda x: traced(x).numpy(), reference, checks)
    if not diff <= CHECK_TOLERANCE:
        raise UnetzooError(
            f"export of {metadata['model']!r} does not reproduce eager logits (max abs diff {diff:.3g} > "
            f"{CHECK_TOLERANCE}); please report this model and options"
        )
    return data, {**rewrites, "group_norm_two_pass": group_norms, "max_abs_diff": diff}


def _card(
    payload: dict[str, Any], model: SegmentationModel, out: Path, format: str, opset: int, prune_level: int | None
) -> dict[str, Any]:
    """The model card, without the export results (``rewrites``, ``int8``, ``sha256``) filled in later."""
    from unetzoo import __version__

    cost = _cost(model)
    spec = payload["model"]
    return {
        "format": CARD_FORMAT,
        "version": CARD_VERSION,
        "file": out.name,
        "file_format": format,
        "model": spec["name"],
        "preset": spec.get("preset"),
        "model_kwargs": _jsonable(spec.get("kwargs", {})),
        "prune_level": prune_level,
        "classes": model.classes,
        "class_names": list(payload.get("class_names") or ("background", "foreground")),
        "in_channels": model.in_channels,
        "preprocess": dict(payload["preprocess"]),
        "resampling": Resampling.from_dict(payload.get("resampling")).to_dict(),
        "inference": _jsonable(payload.get("inference") or {}),
        "instances": _jsonable(payload.get("instances")),  # an instance head and its post-processing, or None
        "threshold": float(payload.get("threshold", 0.5)),
        "input_multiple": model.input_multiple,
        "padding": padding_rule(model),
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "output_activation": "sigmoid" if model.classes == 1 or payload.get("regions") else "softmax",
        "volume": payload.get("volume"),  # slice axis, window, per-volume normalisation, crop: None for 2D data
        "regions": payload.get("regions"),  # region-based outputs (names, ids, regions_class_order), or None
        "params": cost.params,
        "gmacs": round(cost.gmacs, 4),
        "gmacs_input": [1, model.in_channels, GMACS_SIZE, GMACS_SIZE],
        "metrics": _jsonable(payload.get("metrics") or {}),
        "rewrites": {},
        "export_check_max_abs_diff": None,
        "int8": None,
        "unetzoo_version": __version__,
        "torch_version": torch.__version__,
        "opset": opset if format == "onnx" else None,
        "sha256": None,
    }


def export_model(
    checkpoint: str | os.PathLike[str],
    format: str = "onnx",
    out: str | os.PathLike[str] = "model.onnx",
    *,
    int8: bool = False,
    calibration: str | os.PathLike[str] | None = None,
    prune_level: int | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export ``checkpoint`` to ``out`` and write the model card ``out + '.json'``; return ``out``.

    Args:
        checkpoint: a ``best.pt`` / ``last.pt`` written by ``unetzoo train``.
        format: ``"onnx"`` or ``"torchscript"``.
        out: the model file to write (atomically, as is the card).
        int8: quantize to INT8 (ONNX only), calibrating on ``calibration``.
        calibration: a folder of images or a dataset spec (required with ``int8``).
        prune_level: UNet# only: export the level-L sub-network.
        opset: ONNX opset.

    Raises:
        UnetzooError: unreadable checkpoint, a model that cannot be exported this way, bad options, or an
            export whose outputs do not match eager.
    """
    _check_options(format, int8, calibration)
    out = Path(out)
    payload, model = _load(checkpoint, format)
    if int8 and payload.get("volume") is not None:
        raise UnetzooError(
            f"{checkpoint}: --int8 calibrates on 2D images, but this model was trained on volume slices (normalised "
            "per volume); export it without --int8",
            exit_code=2,
        )
    had_cgm = getattr(model, "cgm", None) is not None
    model = prepare(model, prune_level)
    card = _card(payload, model, out, format, opset, prune_level)
    metadata = {"model": card["model"], "unetzoo_version": card["unetzoo_version"], "torch_version": torch.__version__}
    for key in ("volume", "regions"):  # a model trained on volumes: its slicing and outputs in the file too
        if card[key] is not None:
            metadata[key] = json.dumps(card[key], sort_keys=True)
    data, results = serialize(model, format, opset, metadata, merge_axial=not int8)
    has_cgm = getattr(model, "cgm", None) is not None
    card["export_check_max_abs_diff"] = results.pop("max_abs_diff")
    card["rewrites"] = {**results, "cgm_gating": has_cgm, "cgm_dropped_by_pruning": had_cgm and not has_cgm}
    if int8:
        from unetzoo.deploy.quantize import quantize_int8

        assert calibration is not None
        with tempfile.TemporaryDirectory(prefix="unetzoo-export-") as tmp:
            fp32, int8_file = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            fp32.write_bytes(data)
            card["int8"] = quantize_int8(fp32, int8_file, calibration, card)
            data = _stamp(int8_file.read_bytes(), {**metadata, "int8": "true"})
    card["sha256"] = hashlib.sha256(data).hexdigest()
    atomic_write_bytes(out, data)
    atomic_write_text(card_path(out), json.dumps(card, indent=2) + "\n")
    return out
