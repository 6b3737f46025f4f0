"""``report.html`` for a training run: curves, metrics table and best/worst validation cases.

The page is self-contained (images inlined as base64 PNG; no scripts, no CDN) so it opens offline;
``curves.png`` and ``samples.png`` are also written beside it.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from unetzoo.utils.atomic import atomic_write_bytes, atomic_write_text

METRIC_KEYS = (
    "dice",
    "iou",
    "miou",
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "hd95",
    "map",
    "ap50",
    "f1_50",
    "aji",
)
"""Shown when the run logged them (the last four: an instance run, ``--task instances``)."""


def _cases(run: Path, n: int) -> list[dict[str, Any]]:
    """Best and worst validation cases of the best checkpoint (by Dice), best first.

    The training's validation of that checkpoint (``val_dice_per_image`` in ``best.pt``) ranks the images,
    so only the shown cases are predicted again; a checkpoint without it is ranked by predicting them all.
    An instance model's cases hold object labels (``truth``, ``pred``) and their DSB score (``map``).
    """
    from unetzoo.data import open_source
    from unetzoo.engine.checkpoint import load_checkpoint
    from unetzoo.engine.inference import Segmenter
    from unetzoo.instances.segmenter import InstanceSegmenter
    from unetzoo.metrics import compute_all, instance_counts

    payload = load_checkpoint(run / "best.pt")
    if payload.get("volume") is not None:
        return _volume_cases(run, payload, n)
    config = payload["config"]
    source = open_source(
        config["data"],
        fmt=config.get("data_format"),
        positive=config.get("positive"),
        invert_mask=config.get("invert_mask", False),
    )
    index = {sid: i for i, sid in enumerate(source.ids)}
    val = _shown(payload, [s for s in payload["split"].get("val", []) if s in index], n)
    segmenter = Segmenter.from_checkpoint(run / "best.pt")
    objects = InstanceSegmenter.from_record(segmenter, payload["instances"]) if payload.get("instances") else None
    scored = []
    for sid in val:
        image, truth = source.load(index[sid])
        if objects is not None:
            pred, truth = objects.predict(image), source.read_instances(index[sid])
            dice = compute_all((pred > 0).astype(int), (truth > 0).astype(int))["dice"]
            score = instance_counts(pred, truth).scores()["map"]
            scored.append({"id": sid, "image": image, "truth": truth, "pred": pred, "dice": dice, "map": score})
            continue
        pred = segmenter.predict(image)
        dice = compute_all(pred, truth, num_classes=max(2, segmenter.model.classes))["dice"]
        scored.append({"id": sid, "image": image, "truth": truth, "pred": pred, "dice": dice})
    return _best_and_worst(scored, n)


def _shown(payload: dict[str, Any], val: list[str], n: int) -> list[str]:
    """The validation ids worth predicting again: the ``n`` best and ``n`` worst by the Dice the training's
    validation saved with the checkpoint (all of them when it saved none for some)."""
    known = payload.get("val_dice_per_image") or {}
    if not val or not all(s in known for s in val):
        return val
    ranked = sorted(val, key=lambda s: known[s])
    return ranked if len(ranked) <= 2 * n else ranked[:n] + ranked[-n:]


def _best_and_worst(scored: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` best then ``n`` worst rows by Dice, best first."""
    scored = sorted(scored, key=lambda r: r["dice"])
    if len(scored) <= 2 * n:
        return scored[::-1]
    return scored[::-1][:n] + scored[:n][::-1]


def _volume_cases(run: Path, payload: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Best and worst validation volumes of a volume run (scored whole, as the training's validation does), each
    shown by the slice along the training's axis with the most labelled foreground (the middle one if none), its
    first channel in gray."""
    import numpy as np

    from unetzoo.data import open_source
    from unetzoo.engine.inference import Segmenter
    from unetzoo.engine.volumes import score_case
    from unetzoo.volumes.slices import SliceOptions

    config = payload["config"]
    options = SliceOptions.from_dict(payload["volume"])
    source = open_source(config["data"], fmt=config.get("data_format"), slices=options)
    known = set(source.cases)  # type: ignore[attr-defined]
    cases = _shown(payload, [c for c in payload["split"].get("val", []) if c in known], n)
    segmenter = Segmenter.from_checkpoint(run / "best.pt")
    scored = []
    for case in cases:
        pred, scores = score_case(segmenter, source, case)  # type: ignore[arg-type]
        loaded = source.load_case(case)  # type: ignore[attr-defined]
        truth, pred = np.moveaxis(loaded.label, options.dim, 0), np.moveaxis(pred, options.dim, 0)
        area = (truth > 0).sum(axis=(1, 2))
        k = int(area.argmax()) if area.any() else len(area) // 2
        image = np.moveaxis(loaded.image[0], options.dim, 0)[k]  # the first channel, in gray
        row = {"id": f"{case} {options.axis}={k}", "image": image, "truth": truth[k], "pred": pred[k]}
        scored.append(row | {"dice": scores["dice"]})
    return _best_and_worst(scored, n)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _plan_section(run: Path) -> str:
    """The training plan the run followed (``plan.json``): each choice with its reason, then the warnings."""
    path = run / "plan.json"
    if not path.is_file():
        return "<p>no plan: every planned option was given</p>"
    plan = json.loads(path.read_text())
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(json.dumps(plan.get(key)))}</td>"
        f"<td>{html.escape(reason)}</td></tr>"
        for key, reason in plan.get("reasons", {}).items()
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in plan.get("warnings", []))
    return f"<table>{rows}</table>" + (f"<p>Warnings:</p><ul>{warnings}</ul>" if warnings else "")


def write_run_report(run: str | os.PathLike[str], cases: int = 3) -> Path:
    """Write ``report.html`` (+ ``curves.png``, ``samples.png``) into a finished run folder."""
    from unetzoo.report.plots import sample_grid, training_curves

    run = Path(run)
    history = json.loads((run / "log.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    curves = training_curves(history)
    atomic_write_bytes(run / "curves.png", curves)
    samples = _cases(run, cases)
    grid = sample_grid(samples) if samples else b""
    if grid:
        atomic_write_bytes(run / "samples.png", grid)
    best = summary.get("best_metrics", {})
    metric_rows = "".join(
        f"<tr><td>{k}</td><td>{best[f'val_{k}']:.4f}</td></tr>"
        for k in METRIC_KEYS
        if isinstance(best.get(f"val_{k}"), int | float)
    )
    facts = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(summary.get(k)))}</td></tr>"
        for k in (
            "model",
            "preset",
            "data",
            "params",
            "epochs_completed",
            "elapsed_seconds",
            "stop_reason",
            "best_epoch",
            "n_train",
            "n_val",
            "instances",
        )
        if k in summary or k != "instances"
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>unetzoo run: {html.escape(str(summary.get("model")))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td{{border:1px solid #ccc;padding:3px 10px}}img{{max-width:100%}}h2{{margin-top:1.5em}}</style></head>
<body><h1>unetzoo run: {html.escape(str(summary.get("model")))} on {html.escape(str(summary.get("data")))}</h1>
<table>{facts}</table>
<h2>Training plan</h2>{_plan_section(run)}
<h2>Validation metrics (best checkpoint)</h2><table>{metric_rows or "<tr><td>no validation split</td></tr>"}</table>
<h2>Training curves</h2>{_img(curves, "training curves")}
<h2>Best and worst validation cases</h2>{_img(grid, "validation cases") if grid else "<p>no validation images</p>"}
</body></html>
"""
    return atomic_write_text(run / "report.html", page)
