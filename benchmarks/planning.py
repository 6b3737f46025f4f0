"""The planned default against fixed configurations, per dataset and model, under one wall-clock budget.

    python benchmarks/planning.py --data isbi2012=../shared/data/isbi2012,dsb2018=../shared/data/dsb2018,\
hc18=../shared/data/hc18 --models ulite,monai_unet --budget 5m --threads 2 --out runs/planning

Every cell trains with ``unetzoo.engine.train.train`` on the seed-0 split (80/20) and reports the validation
Dice of its best checkpoint, scored at the original image size. Configurations:

* ``plan``: nothing fixed, the planner decides (what ``unetzoo train`` does by default);
* ``native256``: native resolution, 256x256 random patches (the engine's earlier default);
* ``resize256`` / ``resize512``: every image resized to 256x256 / 512x512 (patch and batch planned for it);
* ``whole``: native resolution, whole images as one patch (the 95th-percentile size, rounded up to 32).

A configuration that resolves to the same training options as an earlier one of its row (ISBI's 512x512
slices resized to 512x512, or a plan that picks native 256x256 patches) is trained once and reported as
``same_as`` that one. Fixed configurations get the planner's batch size and validation cadence for their
patch, so each is run at its best; the bar is ``plan >= best fixed - 0.01``. Finished cells are skipped on a
rerun (resumable). It also prints how long planning takes from a cold cache for each dataset (bar: under 10 s
for 500 images).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import torch

from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.config import TrainConfig
from unetzoo.engine.train import train
from unetzoo.planning import make_plan
from unetzoo.planning.fingerprint import cached_fingerprint
from unetzoo.planning.rules import round_up

CONFIGS = ("plan", "native256", "resize256", "resize512", "whole")


def fixed_options(config: str, data: str) -> dict[str, object]:
    """The TrainConfig options that pin configuration ``config``."""
    if config == "plan":
        return {}
    if config == "native256":
        return {"scale": 1.0, "patch_size": (256, 256)}
    if config in ("resize256", "resize512"):
        side = int(config[len("resize") :])
        return {"resize": (side, side)}
    fp = cached_fingerprint(open_source(data))
    return {"scale": 1.0, "patch_size": (round_up(fp.image_height[2], 32), round_up(fp.image_width[2], 32))}


def planned_options(data: str, model: str, config: str, budget: str) -> dict[str, object]:
    """The training options configuration ``config`` resolves to (what the engine would run)."""
    fixed = fixed_options(config, data)
    resampling = TrainConfig(model=model, data=data, **fixed).fixed_resampling()
    plan = make_plan(data, model, budget=budget, resampling=resampling, patch_size=fixed.get("patch_size"))
    return plan.train_options()


def planning_seconds(data: str, model: str, budget: str) -> float:
    """Wall time of one plan from a cold cache (fingerprint and cost measured)."""
    previous = os.environ.get("UNETZOO_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cold:
        os.environ["UNETZOO_CACHE_DIR"] = cold
        start = time.perf_counter()
        make_plan(data, model, budget=budget)
        elapsed = time.perf_counter() - start
    if previous is None:
        os.environ.pop("UNETZOO_CACHE_DIR", None)
    else:
        os.environ["UNETZOO_CACHE_DIR"] = previous
    return elapsed


def run_cell(data: str, model: str, config: str, budget: str, out: Path) -> dict[str, object]:
    summary = out / "summary.json"
    if not summary.exists():
        if (out / "last.pt").exists():
            train(out=str(out), resume=True, progress=False)
        else:
            train(model=model, data=data, budget=budget, out=str(out), progress=False, **fixed_options(config, data))
    facts = json.loads(summary.read_text())
    best = load_checkpoint(out / "best.pt")
    return {
        "dice": facts["best_val_dice"],
        "steps": facts["global_steps"],
        "batch": best["config"]["batch_size"],
        "patch": best["config"]["patch_size"],
        "resampling": best["resampling"],
    }


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="name=path[,name=path...]")
    parser.add_argument("--models", default="ulite,monai_unet")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--budget", default="5m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/planning")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    datasets = dict(item.split("=", 1) for item in args.data.split(","))
    models, configs = args.models.split(","), args.configs.split(",")
    out = Path(args.out)
    results: dict[str, dict[str, object]] = {}
    for name, data in datasets.items():
        print(f"planning {name}: {planning_seconds(data, models[0], args.budget):.2f} s from a cold cache", flush=True)
    for name, data in datasets.items():
        for model in models:
            resolved: dict[str, dict[str, object]] = {}  # config -> options; identical ones train once
            for config in configs:
                options = planned_options(data, model, config, args.budget)
                twin = next((c for c, o in resolved.items() if o == options), None)
                resolved[config] = options
                if twin is not None:
                    cell = dict(results[f"{name}/{model}/{twin}"], same_as=twin)
                else:
                    cell = run_cell(data, model, config, args.budget, out / name / model / config)
                results[f"{name}/{model}/{config}"] = cell
                print(f"{name:10s} {model:12s} {config:10s} " + " ".join(f"{k}={_fmt(v)}" for k, v in cell.items()),
                      flush=True)  # fmt: skip
    print(f"\n| data | model | {' | '.join(configs)} | plan - best fixed |")
    print(f"|---|---|{'---:|' * (len(configs) + 1)}")
    for name in datasets:
        for model in models:
            dice = {c: results[f"{name}/{model}/{c}"]["dice"] for c in configs}
            fixed = [float(v) for c, v in dice.items() if c != "plan" and v is not None]
            margin = float(dice["plan"]) - max(fixed) if "plan" in dice and fixed and dice["plan"] is not None else None
            cells = " | ".join(_fmt(dice[c]) for c in configs)
            print(f"| {name} | {model} | {cells} | {_fmt(margin) if margin is not None else '-'} |")
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
