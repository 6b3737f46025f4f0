"""``unetzoo compare``: the papers' tables on the user's data and machine, under one protocol.

Every model is trained by the same engine with the same split, seed, augmentation, loss and wall-clock
budget, then evaluated on the same held-out images; its params, GMACs and CPU latency are measured at the
training size. Each (model, fold) run lives in ``DIR/runs/<model>/fold<k>``: a killed compare continues with
``--resume`` semantics, skipping finished runs and resuming a half-done one from its ``last.pt``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from unetzoo.bench.latency import num_threads, time_interleaved
from unetzoo.bench.profile import profile
from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.engine.config import DEFAULT_HEAD
from unetzoo.engine.evaluate import evaluate_images
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.instances import evaluate_instances
from unetzoo.engine.train import train
from unetzoo.errors import UnetzooError
from unetzoo.instances.segmenter import InstanceSegmenter
from unetzoo.models import get_entry
from unetzoo.utils.atomic import atomic_write_text

METRICS = ("dice", "iou", "miou", "accuracy", "hd95", "v_rand", "v_info")
INSTANCE_METRICS = ("map", "ap50", "f1_50", "aji")
"""The object columns of a ``task="instances"`` compare (each model trained with the same instance head)."""


@dataclass
class CompareConfig:
    """One protocol for every model (see module doc)."""

    models: list[str]
    data: str
    out: str
    budget: str = "5m"
    folds: int | None = None
    seed: int = 0
    batch_size: int | None = None  # None: each model's training plan (unetzoo.plan) chooses
    lr: float | None = None
    loss: str | None = None
    augment: str | None = None
    patch_size: tuple[int, int] | None = None
    val_fraction: float = 0.2
    em: bool = False
    steps_per_epoch: int | None = None
    """Training steps between validations (``None``: the plan's cadence, which keeps validation within a
    tenth of the budget on small and large datasets alike); a run cut by the budget validates where it stopped."""
    size: tuple[int, int] = (256, 256)  # the input size of the parameter/GMACs/latency columns
    threads: int | None = None
    latency_runs: int = 20
    prune_levels: list[int] = field(default_factory=list)
    task: str = "semantic"  # instances: every model trained with ``head`` and scored on objects too
    head: str = DEFAULT_HEAD
    train_options: dict[str, Any] = field(default_factory=dict)


def parse_model(spec: str) -> tuple[str, str | None]:
    """``name`` or ``name:preset`` -> (name, preset); unknown names are a clear error."""
    name, _, preset = spec.partition(":")
    get_entry(name)
    return name, preset or None


def _run_dir(config: CompareConfig, spec: str, fold: int) -> Path:
    return Path(config.out) / "runs" / spec.replace(":", "@") / f"fold{fold}"


def train_one(config: CompareConfig, spec: str, fold: int) -> Path:
    """Train (or finish, or skip) one (model, fold) run; return its folder."""
    out = _run_dir(config, spec, fold)
    if (out / "summary.json").exists():
        return out
    name, preset = parse_model(spec)
    common = {"out": str(out), "progress": False, "budget": config.budget}
    if (out / "last.pt").exists():
        train(resume=True, **common)
        return out
    train(
        model=name,
        preset=preset,
        data=config.data,
        seed=config.seed,
        batch_size=config.batch_size,
        lr=config.lr,
        loss=config.loss,
        augment=config.augment,
        patch_size=config.patch_size,
        val_fraction=config.val_fraction,
        folds=config.folds,
        fold=fold if config.folds else None,
        deep_supervision=bool(config.prune_levels),
        task=config.task,
        head=config.head,
        **{"iters_per_epoch": config.steps_per_epoch, **config.train_options},
        **common,
    )
    return out


def latency_ms(model: torch.nn.Module, in_channels: int, size: tuple[int, int], runs: int) -> float:
    """Median eager latency (ms) of one (1, C, H, W) inference."""
    x = torch.randn(1, in_channels, *size)
    model.eval()

    def call() -> None:
        with torch.inference_mode():
            model(x)

    return time_interleaved({"m": call}, runs=runs, warmup=3)["m"].median_ms


def _history(run: Path) -> list[dict[str, float]]:
    rows = json.loads((run / "log.json").read_text())
    return [{"elapsed": r["elapsed"], "val_dice": r["val_dice"]} for r in rows if r.get("val_dice") is not None]


def validation_of_checkpoint(config: CompareConfig, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The scores the training's own validation gave this checkpoint, if they cover the table's metrics.

    The engine validates on the same held-out images, whole, with the same segmenter and threshold as
    :func:`evaluate_run`, and stores that row in the checkpoint; evaluating again would double the cost of
    the heavy models on large images (DSB 2018 at one thread: minutes per model). EM scores are not part of
    the training's validation, so ``em=True`` evaluates afresh; so does ``task="instances"`` (the
    post-processing is chosen after the training's last validation).
    """
    if config.task == "instances":
        return None
    wanted = [m for m in METRICS if config.em or m not in ("v_rand", "v_info")]
    row = payload.get("metrics") or {}
    if any(f"val_{m}" not in row for m in wanted):
        return None
    return {m: row[f"val_{m}"] for m in wanted}


def evaluate_run(config: CompareConfig, run: Path, model: torch.nn.Module | None = None) -> dict[str, Any]:
    """Held-out metrics, complexity and latency of one run's best checkpoint (or of ``model``)."""
    payload = load_checkpoint(run / "best.pt")
    segmenter = Segmenter.from_checkpoint(run / "best.pt")
    if model is not None:
        segmenter.model = model.eval()
    scores = None if model is not None else validation_of_checkpoint(config, payload)
    if scores is None:
        source = open_source(config.data)
        index = {sid: i for i, sid in enumerate(source.ids)}
        val = [index[s] for s in payload["split"]["val"]]
        if config.task == "instances":
            objects = InstanceSegmenter.from_record(segmenter, payload.get("instances"))
            scores = evaluate_instances(objects, source, val).aggregate
        else:
            scores = evaluate_images(segmenter, source, val, em=config.em).aggregate
    net = segmenter.model
    prof = profile(net, (1, net.in_channels, *config.size), memory=False)
    return {
        **{k: scores.get(k) for k in (*METRICS, *INSTANCE_METRICS)},
        "params": prof.params,
        "gmacs": prof.gmacs,
        "latency_ms": latency_ms(net, net.in_channels, config.size, config.latency_runs),
    }


def run_facts(run: Path) -> dict[str, Any]:
    """How far a finished run got in its budget: epochs and optimizer steps, at which batch size; its curve."""
    summary = json.loads((run / "summary.json").read_text())
    batch_size = yaml.safe_load((run / "config.yaml").read_text())["batch_size"]
    return {
        "epochs": summary["epochs_completed"],
        "steps": summary["global_steps"],
        "batch_size": batch_size,
        "history": _history(run),
    }


def evaluated(config: CompareConfig, run: Path) -> dict[str, Any]:
    """:func:`evaluate_run`, remembered in ``run/compare_eval.json`` for this checkpoint and protocol.

    A resumed compare does not evaluate and time its finished runs again (for a heavy model on a CPU that is
    minutes each); a new ``best.pt`` (by its sha256 record) or another data, size, EM or latency setting
    invalidates the record.
    """
    digest = run / "best.pt.sha256"
    key = {
        "best": digest.read_text().strip() if digest.exists() else None,
        "data": config.data,
        "size": list(config.size),
        "em": config.em,
        "task": config.task,
        "latency_runs": config.latency_runs,
    }
    record = run / "compare_eval.json"
    if key["best"] is not None and record.exists():
        try:
            saved = json.loads(record.read_text())
        except ValueError:
            saved = {}
        if saved.get("key") == key:
            return {**saved["result"], **run_facts(run)}
    result = evaluate_run(config, run)
    atomic_write_text(record, json.dumps({"key": key, "result": result}, default=float))
    return {**result, **run_facts(run)}


def _mean_std(values: list[Any]) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals)) if len(vals) > 1 else 0.0


def summarize(model: str, folds: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row: mean and std over folds of every figure."""
    row: dict[str, Any] = {"model": model, "folds": len(folds)}
    for key in ("params", "gmacs", "latency_ms", "batch_size", "epochs", "steps", *METRICS, *INSTANCE_METRICS):
        mean, std = _mean_std([f.get(key) for f in folds])
        row[key], row[f"{key}_std"] = mean, std
    row["history"] = folds[0]["history"] if folds else []
    return row


def run_compare(config: CompareConfig) -> list[dict[str, Any]]:
    """Train and evaluate every model (resumably); return the table rows (also written by the report)."""
    for spec in config.models:
        parse_model(spec)
    if config.prune_levels and config.models != ["unet_sharp"]:
        raise UnetzooError("--prune-levels works with --models unet_sharp alone", exit_code=2)
    Path(config.out).mkdir(parents=True, exist_ok=True)
    folds = list(range(config.folds or 1))
    rows = []
    with num_threads(config.threads):
        for spec in config.models:
            results = [evaluated(config, train_one(config, spec, k)) for k in folds]
            rows.append(summarize(spec, results))
        for level in config.prune_levels:
            results = []
            for k in folds:
                run = _run_dir(config, config.models[0], k)
                full = model_from_checkpoint(load_checkpoint(run / "best.pt"))
                results.append({**evaluate_run(config, run, model=full.prune(level)), **run_facts(run)})
            rows.append(summarize(f"unet_sharp L{level}", results))
    return rows


def write_tables(rows: list[dict[str, Any]], out: str | os.PathLike[str]) -> None:
    """table.md, table.csv, table.json in ``out`` (histories stay in table.json)."""
    from unetzoo.report.compare_report import write_compare_outputs

    write_compare_outputs(rows, Path(out))
