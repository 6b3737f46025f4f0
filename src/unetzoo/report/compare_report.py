"""Outputs of ``unetzoo compare``: table.md/.csv/.json, three plots and a self-contained report.html.

Plots: Dice vs params and Dice vs latency with the Pareto front marked (no other model is both better and
cheaper), and validation Dice over wall-clock time for every model on one chart.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from unetzoo.report.plots import figure, png
from unetzoo.utils.atomic import atomic_write_bytes, atomic_write_text

COLUMNS = (
    "params",
    "gmacs",
    "latency_ms",
    "batch_size",
    "epochs",
    "steps",
    "dice",
    "iou",
    "miou",
    "accuracy",
    "hd95",
    "v_rand",
    "v_info",
    "map",
    "ap50",
    "f1_50",
    "aji",
)


def _fmt(key: str, mean: Any, std: Any) -> str:
    if mean is None:
        return "-"
    if key == "params":
        return f"{mean / 1e6:.2f}M"
    digits = {"gmacs": 2, "latency_ms": 1, "batch_size": 0, "epochs": 0, "steps": 0, "hd95": 1}.get(key, 4)
    text = f"{mean + 0.0:.{digits}f}".replace("-0." + "0" * digits, "0." + "0" * digits)
    return f"{text} ± {std:.{digits}f}" if std else text


def markdown_table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in COLUMNS if any(r.get(k) is not None for r in rows)]
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(_fmt(k, r.get(k), r.get(f"{k}_std")) for k in keys) + " |")
    return "\n".join(lines)


def pareto_front(rows: list[dict[str, Any]], cost: str) -> set[str]:
    """Models for which no other model has higher Dice at lower or equal cost."""
    front = set()
    for r in rows:
        if r.get("dice") is None or r.get(cost) is None:
            continue
        dominated = any(
            o is not r
            and o.get("dice") is not None
            and o.get(cost) is not None
            and o["dice"] >= r["dice"]
            and o[cost] <= r[cost]
            and (o["dice"] > r["dice"] or o[cost] < r[cost])
            for o in rows
        )
        if not dominated:
            front.add(r["model"])
    return front


def scatter(rows: list[dict[str, Any]], cost: str, label: str) -> bytes:
    plt, fig = figure(6.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    front = pareto_front(rows, cost)
    pts = sorted((r[cost], r["dice"], r["model"]) for r in rows if r.get("dice") is not None and r.get(cost))
    for x, y, name in pts:
        on = name in front
        ax.scatter([x], [y], s=60 if on else 30, c="crimson" if on else "steelblue", zorder=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    fx = [(x, y) for x, y, n in pts if n in front]
    if len(fx) > 1:
        ax.plot([p[0] for p in fx], [p[1] for p in fx], "--", c="crimson", lw=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("validation Dice")
    ax.grid(alpha=0.3)
    return png(plt, fig)


def dice_over_time(rows: list[dict[str, Any]]) -> bytes:
    plt, fig = figure(7.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for r in rows:
        hist = [h for h in r.get("history") or [] if "val_dice" in h]  # epochs that validated
        if hist:
            ax.plot([h["elapsed"] / 60 for h in hist], [h["val_dice"] for h in hist], label=r["model"])
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel("validation Dice")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return png(plt, fig)


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    fields = ["model", "folds", *[f for k in COLUMNS for f in (k, f"{k}_std")]]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_compare_outputs(rows: list[dict[str, Any]], out: Path) -> Path:
    """Write every output of a comparison into ``out``; return the report path."""
    table = markdown_table(rows)
    atomic_write_text(out / "table.md", table + "\n")
    atomic_write_text(out / "table.csv", _csv(rows))
    atomic_write_text(out / "table.json", json.dumps(rows, indent=1))
    plots = {
        "dice_vs_params.png": scatter(rows, "params", "parameters"),
        "dice_vs_latency.png": scatter(rows, "latency_ms", "CPU latency, ms (batch 1)"),
        "dice_over_time.png": dice_over_time(rows),
    }
    for name, data in plots.items():
        atomic_write_bytes(out / name, data)
    imgs = "".join(
        f"<h2>{html.escape(n[:-4].replace('_', ' '))}</h2>"
        f'<img alt="{n}" src="data:image/png;base64,{base64.b64encode(d).decode()}">'
        for n, d in plots.items()
    )
    body = "".join(
        f"<tr>{''.join(f'<td>{html.escape(c.strip())}</td>' for c in line.strip('|').split('|'))}</tr>"
        for line in table.splitlines()
        if not line.startswith("|---")
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>unetzoo compare</title><style>'
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:3px 8px}img{max-width:100%}</style></head><body>"
        f"<h1>unetzoo compare</h1><table>{body}</table>{imgs}</body></html>"
    )
    return atomic_write_text(out / "report.html", page)
