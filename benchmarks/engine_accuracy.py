"""Scores of one checkpoint through each inference engine, on its own validation images.

    .venv/bin/python benchmarks/engine_accuracy.py --checkpoint RUN/best.pt --data ../shared/data/dsb2018 \
        [--engines eager,onnx,openvino-bf16] [--threads 2]

Every engine of ``unetzoo bench --engines`` (:mod:`unetzoo.bench.engines`) is built from the checkpoint's network
and swapped in for the network of the checkpoint's own segmenter, so preprocessing, resampling, whole-image or
tiled inference, thresholds and (for an instance checkpoint) the stored post-processing stay those of
``unetzoo eval``. Prints, per engine: Dice and IoU of the foreground, and for an instance checkpoint ``map`` and
``ap50``; the seconds the evaluation took. A faster engine is only a default candidate if these hold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from unetzoo.bench.engines import Runner, get_engine
from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate_images
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.instances import evaluate_instances
from unetzoo.instances.segmenter import InstanceSegmenter


class EngineNetwork(nn.Module):
    """An engine's ``run(batch)`` in the place of a network: tensor in, fp32 logits tensor out."""

    def __init__(self, run: Runner, network: nn.Module) -> None:
        super().__init__()
        self.run = run
        self.in_channels, self.classes = network.in_channels, network.classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.run(x)
        return out.float() if isinstance(out, torch.Tensor) else torch.from_numpy(np.asarray(out, np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True, help="the dataset the checkpoint was trained on")
    parser.add_argument("--engines", default="eager,onnx,openvino-bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    payload = load_checkpoint(args.checkpoint)
    source = open_source(args.data)
    index = {sample: k for k, sample in enumerate(source.ids)}
    val = [index[sample] for sample in payload["split"]["val"]]
    print(f"{args.checkpoint}: {len(val)} validation images of {args.data}, {args.threads} thread(s)")
    print("| engine | Dice | IoU | map | ap50 | seconds |\n|---|---:|---:|---:|---:|---:|")
    for name in args.engines.split(","):
        segmenter = Segmenter.from_checkpoint(args.checkpoint)
        network = segmenter.model
        example = torch.randn(1, network.in_channels, 256, 256)
        segmenter.model = EngineNetwork(get_engine(name).build(network, example, args.threads), network)
        start = time.perf_counter()
        if payload.get("instances"):
            objects = InstanceSegmenter.from_record(segmenter, payload["instances"])
            scores = evaluate_instances(objects, source, val).aggregate
        else:
            scores = evaluate_images(segmenter, source, val).aggregate
        seconds = time.perf_counter() - start
        cells = [f"{scores[key]:.4f}" if key in scores else "-" for key in ("dice", "iou", "map", "ap50")]
        print(f"| {name} | {' | '.join(cells)} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
