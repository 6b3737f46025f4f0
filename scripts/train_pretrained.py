"""Train, score and package a shipped pretrained model (``unetzoo.pretrained``), reproducibly.

Usage::

    python scripts/train_pretrained.py --data ../shared/data/dsb2018 --name nuclei --model ulite \\
        --head distance --budget 60m --threads 1 --work runs/pretrained

Two runs of the same recipe (the planned defaults of ``unetzoo train --task instances``; the budget alone stops
training, and the final weights are kept, since the shipped run has no validation split to pick from):

1. ``record``: trained on the seed-0 training split (80%); its post-processing is chosen on the validation split
   (20%) and its scores there (Dice, map, ap50, f1_50, aji) are the ones the registry publishes.
2. ``shipped``: trained on every image; it takes the record run's post-processing.

:func:`unetzoo.pretrained.package.package` then strips the shipped checkpoint to what inference needs, exports
it to ONNX with its model card and registers the three files with their sha256 in
``src/unetzoo/pretrained/weights/``, with the command, git commit, data fingerprint, steps and seconds of both
runs, and the median object diameter of the training labels (what ``--object-size`` compares a user's objects
with). Finished runs are reused; ``--only record`` and ``--only shipped`` train one run each (two processes at one
thread each use two cores better than one at two), and a last call without ``--only`` packages.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.instances import tune_checkpoint
from unetzoo.engine.train import train
from unetzoo.pretrained.package import median_object_diameter, package, seen_object_sizes
from unetzoo.pretrained.registry import PretrainedModel, weights_dir

ROOT = Path(__file__).resolve().parents[1]
INTENDED = (
    "2D light-microscopy images of cell nuclei: fluorescence (gray or colour) and brightfield or H&E histology, "
    "8- or 16-bit, at DSB 2018's resolutions (see object_size; other sizes: --object-size or the per-image estimate)"
)
NOT_TRAINED_ON = (
    "3D stacks, whole cells or cytoplasm, electron microscopy, tissue types beyond DSB 2018's few histology "
    "images, nuclei more than 4x smaller or larger than object_size"
)
SCORE_KEYS = ("dice", "iou", "map", "ap50", "f1_50", "aji", "n_true", "n_pred", "n_images")


def run(out: Path, **options: Any) -> dict[str, Any]:
    """Train into ``out`` unless it holds a finished run (an interrupted one is resumed); returns its summary
    with ``git_commit``, the commit the training code was at (noted in ``out/git_commit`` when it starts)."""
    if not (out / "summary.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "git_commit").exists():
            (out / "git_commit").write_text(git_commit())
        train(out=str(out), progress=False, resume=(out / "last.pt").exists(), **options)
    summary = json.loads((out / "summary.json").read_text())
    noted = out / "git_commit"
    return {**summary, "git_commit": noted.read_text().strip() if noted.exists() else "unknown"}


def planned_threads(out: Path) -> int:
    """The threads run ``out`` trained with (its plan), whatever this packaging call was given."""
    return int(json.loads((out / "plan.json").read_text())["threads"])


def git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--name", default="nuclei")
    parser.add_argument("--model", default="ulite")
    parser.add_argument("--head", default="distance")
    parser.add_argument("--budget", default="60m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="runs/pretrained", help="folder of the two training runs")
    parser.add_argument("--out", default=str(weights_dir()), help="where the registry and weights go")
    parser.add_argument("--summary", default="Nuclei in light microscopy: one label per nucleus, and the mask.")
    parser.add_argument("--training-data", default="2018 Data Science Bowl stage1_train, community-fixed (BBBC038v1)")
    parser.add_argument("--licence", default="CC0-1.0")
    parser.add_argument("--intended-inputs", default=INTENDED)
    parser.add_argument("--not-trained-on", default=NOT_TRAINED_ON)
    parser.add_argument(
        "--only", choices=("record", "shipped"), help="train this run only and stop (run the two in parallel)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    recipe = {"model": args.model, "data": args.data, "task": "instances", "head": args.head, "budget": args.budget}

    if args.only:
        run(work / args.only, **recipe, **({"val_fraction": 0.0} if args.only == "shipped" else {}))
        return
    record_run = run(work / "record", **recipe)
    record = work / "record" / "last.pt"
    source = open_source(args.data)
    index = {sid: i for i, sid in enumerate(source.ids)}
    val = [index[s] for s in load_checkpoint(record)["split"]["val"]]
    tuned = load_checkpoint(record).get("instances") or {}
    if "decoding" not in tuned:
        tuned = tune_checkpoint(record, source, val)
    scores = evaluate(record, args.data, split="val", instances=True).aggregate
    shipped_run = run(work / "shipped", **recipe, val_fraction=0.0)
    shipped = work / "shipped" / "last.pt"
    runs = (("record", record_run), ("shipped", shipped_run))

    entry = PretrainedModel(
        name=args.name,
        task="instances",
        architecture=args.model,
        head=args.head,
        summary=args.summary,
        training_data=f"{args.training_data}: {len(source)} images",
        data_licence=args.licence,
        object_size=round(median_object_diameter(source), 2),
        object_size_range=seen_object_sizes(source),
        intended_inputs=args.intended_inputs,
        not_trained_on=args.not_trained_on,
        files={},
        scores={
            **{k: scores[k] for k in SCORE_KEYS if k in scores},
            "measured_on": f"seed-0 validation split ({len(val)} images) by the record run, trained on the other "
            f"{len(source) - len(val)} with the same recipe",
        },
        recipe={
            "command": " ".join(  # this call; the runs' own threads are recorded below
                shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
            ),
            **{f"{name}_git_commit": r["git_commit"] for name, r in runs},
            "packaged_at_git_commit": git_commit(),
            "data_fingerprint": load_checkpoint(shipped).get("data_fingerprint"),
            "resampling": load_checkpoint(shipped).get("resampling"),  # the working scale it was trained at
            "torch": torch.__version__,
            **{f"{name}_threads": planned_threads(work / name) for name, _ in runs},
            **{f"{name}_steps": r["global_steps"] for name, r in runs},
            **{f"{name}_seconds": r["elapsed_seconds"] for name, r in runs},
        },
    )
    decoding = {"head": args.head, "decoding": tuned["decoding"], "chosen_on": "the record run's validation split"}
    entry = package(shipped, entry, args.out, instances=decoding)
    print({k: entry.scores[k] for k in ("dice", "map", "ap50") if k in entry.scores}, entry.size_bytes, "bytes")


if __name__ == "__main__":
    main()
