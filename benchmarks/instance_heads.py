"""The instance heads compared: each trained on the same data, model and wall-clock budget, scored on objects.

    python benchmarks/instance_heads.py --data ../shared/data/dsb2018 --model ulite --budget 15m --threads 2 \\
        --out runs/instance_heads

For every head (``boundary``, ``distance``; ``--heads`` to choose, ``semantic`` adds the plain mask split into
connected components) it runs ``unetzoo.engine.train.train(task="instances", head=...)`` on the seed-0 split,
which ends by choosing the post-processing on the validation split, then scores the best checkpoint on that
split with :func:`unetzoo.engine.evaluate.evaluate` (``map``, ``ap50``, ``f1_50``, ``aji``, counts, Dice) and
times the post-processing alone per image. Finished runs are reused (resumable); ``--retune`` chooses their
post-processing again (after a change of the search) without training again. ``--augment``, ``--lr`` and ``--scale``
override the plan's; ``--seed`` with ``--split-file`` (a run's ``split.json``) trains another seed on the same split.
Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.instances import tune_checkpoint
from unetzoo.engine.train import train
from unetzoo.instances.segmenter import InstanceSegmenter

KEYS = ("map", "ap50", "f1_50", "aji", "dice", "n_true", "n_pred")


def decode_seconds(checkpoint: Path, data: str, images: int = 10) -> float:
    """Median seconds of post-processing alone (probabilities -> labels) over the first validation images."""
    model = InstanceSegmenter.from_checkpoint(checkpoint)
    source = open_source(data)
    index = {sid: i for i, sid in enumerate(source.ids)}
    times = []
    for sid in load_checkpoint(checkpoint)["split"]["val"][:images]:
        probs = model.probabilities(source.load(index[sid])[0])
        start = time.perf_counter()
        model.decode(probs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--heads", default="boundary,distance")
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/instance_heads")
    parser.add_argument("--retune", action="store_true", help="choose finished runs' post-processing again")
    parser.add_argument("--augment", help="augmentation preset (default: the plan's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the plan's)")
    parser.add_argument("--scale", type=float, help="working scale (default: the plan's)")
    parser.add_argument("--seed", type=int, help="training seed (default 0; it also draws the split)")
    parser.add_argument("--split-file", help="a split JSON, to train another seed on the same split")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for head in args.heads.split(","):
        out = Path(args.out) / head
        if not (out / "summary.json").exists():
            task = {"task": "semantic"} if head == "semantic" else {"task": "instances", "head": head}
            given = {"augment": args.augment, "lr": args.lr, "scale": args.scale, "seed": args.seed,
                     "split_file": args.split_file}  # fmt: skip
            task.update({k: v for k, v in given.items() if v is not None})
            train(model=args.model, data=args.data, budget=args.budget, out=str(out), progress=False, **task)
        elif args.retune and head != "semantic":
            source = open_source(args.data)
            index = {sid: i for i, sid in enumerate(source.ids)}
            val = [index[s] for s in load_checkpoint(out / "best.pt")["split"]["val"]]
            tune_checkpoint(out / "best.pt", source, val)
        summary = json.loads((out / "summary.json").read_text())
        scores = evaluate(out / "best.pt", instances=True).aggregate
        row = {"head": head, "steps": summary["global_steps"], **{k: scores[k] for k in KEYS}}
        record = load_checkpoint(out / "best.pt").get("instances") or {}
        row["decoding"] = record.get("decoding", "connected components")
        torch.set_num_threads(1)
        row["decode_s"] = decode_seconds(out / "best.pt", args.data)
        torch.set_num_threads(args.threads)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| head | steps | map | ap50 | f1_50 | aji | Dice | objects true / predicted | post-processing s/image |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['head']} | {r['steps']} | {r['map']:.4f} | {r['ap50']:.4f} | {r['f1_50']:.4f} | {r['aji']:.4f} "
              f"| {r['dice']:.4f} | {r['n_true']} / {r['n_pred']} | {r['decode_s']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
