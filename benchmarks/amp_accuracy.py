"""Issue 17: does bf16 autocast (``unetzoo train --amp``) keep accuracy? fp32 and bf16 at equal steps.

    .venv/bin/python benchmarks/amp_accuracy.py \\
        --data isbi2012=../shared/data/isbi2012,dsb2018=../shared/data/dsb2018 \\
        --model ulite --steps 240 --iters 40 --seeds 0,1 --threads 2 --out runs/amp_accuracy

For each dataset the planner plans once (``cadence=False``); every run then trains from that same plan file for
exactly ``--steps`` steps (``--iters`` per epoch), seed by seed, in fp32 and in bf16, and reports the validation
Dice of the last epoch (seed-0 split unless the seed changes it: the split follows ``seed``). Printed per dataset:
each seed's fp32 and bf16 Dice, their mean difference, and the seed-to-seed spread of fp32 (the noise the
difference is judged against; issue 17's bar is |difference| <= 0.005). Finished runs are reused.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

from unetzoo.engine.train import train
from unetzoo.planning import make_plan


def last_dice(run: Path) -> float:
    return float(json.loads((run / "log.json").read_text())[-1]["val_dice"])


def run_once(run: Path, **options: object) -> tuple[float, float]:
    """Train ``run`` unless finished; (last-epoch val Dice, seconds)."""
    if not (run / "summary.json").exists():
        train(out=str(run), progress=False, **options)
    summary = json.loads((run / "summary.json").read_text())
    return last_dice(run), float(summary["elapsed_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="name=path,... (datasets)")
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--iters", type=int, default=50, help="steps per epoch (validation after each)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/amp_accuracy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epochs = math.ceil(args.steps / args.iters)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, object] = {}
    for item in args.data.split(","):
        name, path = item.split("=", 1)
        folder = Path(args.out) / name / args.model
        folder.mkdir(parents=True, exist_ok=True)
        plan_file = folder / "plan.json"
        if not plan_file.exists():
            make_plan(path, args.model, threads=args.threads, cadence=False).save(plan_file)
        dice: dict[str, list[float]] = {"fp32": [], "bf16": []}
        seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for seed in seeds:
            for precision in ("fp32", "bf16"):
                d, s = run_once(
                    folder / f"{precision}_seed{seed}",
                    model=args.model,
                    data=path,
                    plan=str(plan_file),
                    epochs=epochs,
                    iters_per_epoch=args.iters,
                    budget="48h",
                    seed=seed,
                    amp=precision == "bf16",
                )
                dice[precision].append(d)
                seconds[precision].append(s)
                print(f"{name} {args.model} seed {seed} {precision}: val Dice {d:.4f} ({s:.0f} s)", flush=True)
        diff = statistics.mean(dice["bf16"]) - statistics.mean(dice["fp32"])
        spread = statistics.stdev(dice["fp32"]) if len(seeds) > 1 else float("nan")
        results[name] = {"dice": dice, "seconds": seconds, "bf16_minus_fp32": diff, "fp32_seed_std": spread}
        verdict = "within" if abs(diff) <= 0.005 else "outside"
        print(f"{name}: bf16 - fp32 = {diff:+.4f} ({verdict} 0.005); fp32 seed-to-seed std {spread:.4f}")
    (Path(args.out) / f"{args.model}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
