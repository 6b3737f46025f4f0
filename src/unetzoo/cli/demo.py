"""``unetzoo demo``: the README's main job — train ``ulite`` on the bundled nuclei data, evaluate, report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train ulite on builtin:nuclei for a few minutes, evaluate, write a report")
    p.add_argument("--budget", default="4m", help="training wall-clock budget (default 4m)")
    p.add_argument("--out", default="runs/demo", help="run folder (a fresh numbered one if it exists)")
    p.set_defaults(func=run)


def _fresh(out: Path) -> Path:
    if not (out / "last.pt").exists():
        return out
    n = 2
    while (out.parent / f"{out.name}-{n}" / "last.pt").exists():
        n += 1
    return out.parent / f"{out.name}-{n}"


def run(args: argparse.Namespace) -> int:
    from unetzoo.engine.evaluate import evaluate
    from unetzoo.engine.train import train

    out = _fresh(Path(args.out))
    result = train(
        model="ulite",
        data="builtin:nuclei",
        budget=args.budget,  # everything else is planned from the data and this budget (docs/planning.md)
        val_fraction=0.2,
        seed=0,
        out=str(out),
    )
    scores = evaluate(result.best_checkpoint, split="val")
    print(json.dumps({k: round(v, 4) for k, v in scores.aggregate.items() if v is not None}, indent=2))
    print(f"\nrun folder: {result.out}\nreport:     {result.out / 'report.html'}")
    return 0
