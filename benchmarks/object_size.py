"""Does ``--object-size`` rescue images whose objects are smaller or larger than the model's training objects?

    python benchmarks/object_size.py --checkpoint runs/pretrained/record/last.pt --data ../shared/data/dsb2018 \\
        [--object-size 19.74] [--zooms 0.5,1,2] [--threads 2]

The validation images of the checkpoint's split (never trained on) are zoomed by each factor (images with the
antialiased linear filter, instance labels by nearest neighbour), so their objects measure ``zoom`` times their
original size. Each is segmented three ways and scored on objects (DSB ``map``, ``ap50``):

* ``none``: at the model's trained scale, whatever the objects' size;
* ``tolerance``: estimated (a first pass, its median object diameter, a second pass at the corrected scale;
  :class:`unetzoo.instances.scale.ObjectSizer`) when the estimate is more than ``TOLERANCE`` off the trained size;
* ``seen``: the default of pretrained models: estimated the same way, a second pass only when the estimate lies
  outside the range of median diameters of the checkpoint's training images (``seen_object_sizes``);
* ``given``: the true median diameter of the image's labelled objects as ``--object-size`` (the best a user
  who measures their objects can do), clamped to the 4x range ``--object-size`` accepts.

``--object-size`` (the trained size, px) defaults to the median diameter of the checkpoint's training labels.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from unetzoo.data import open_source
from unetzoo.data.instances import require_instances
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.instances.scale import MAX_FACTOR, ObjectSizer, median_diameter
from unetzoo.instances.segmenter import InstanceSegmenter
from unetzoo.metrics.instances import aggregate_instances, instance_counts
from unetzoo.pretrained.package import median_object_diameter, seen_object_sizes
from unetzoo.utils.resample import Resampling, apply_to_image

MODES = ("none", "tolerance", "seen", "given")


def zoomed(image: np.ndarray, labels: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """The image and its labels with every side times ``zoom``."""
    if zoom == 1.0:
        return image, labels
    image = apply_to_image(image, Resampling("scale", scale=zoom))
    rows = np.minimum((np.arange(image.shape[0]) + 0.5) / zoom, labels.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(image.shape[1]) + 0.5) / zoom, labels.shape[1] - 1).astype(int)
    return image, labels[np.ix_(rows, cols)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--object-size", type=float)
    parser.add_argument("--zooms", default="0.5,1,2")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = open_source(args.data)
    index = {sid: i for i, sid in enumerate(source.ids)}
    split = load_checkpoint(args.checkpoint)["split"]
    val = [index[s] for s in split["val"]]
    trained = args.object_size or median_object_diameter(source, [index[s] for s in split["train"]])
    seen = seen_object_sizes(source, [index[s] for s in split["train"]])
    objects = InstanceSegmenter.from_checkpoint(args.checkpoint)
    print(f"trained object size {trained:.2f} px, seen {seen[0]}-{seen[1]} px; {len(val)} validation images\n")
    print("| zoom | sizing | map | ap50 | median scale factor | second passes |")
    print("|---:|---|---:|---:|---:|---:|")
    for zoom in (float(z) for z in args.zooms.split(",")):
        counts: dict[str, list] = {mode: [] for mode in MODES}
        factors: dict[str, list[float]] = {mode: [] for mode in MODES}
        for i in val:
            image, truth = zoomed(source.load(i)[0], require_instances(source, i), zoom)
            where = source.ids[i]
            for mode in MODES:
                if mode == "none":
                    labels, factor = objects.predict(image, where), 1.0
                else:
                    size = median_diameter(truth) if mode == "given" else None
                    if size is not None:  # a user can give at most 4x either way (MAX_FACTOR): the nearest allowed
                        size = min(max(size, trained / MAX_FACTOR), trained * MAX_FACTOR)
                    band = seen if mode == "seen" else None
                    result = ObjectSizer(objects, trained, size, band).run(image, where)
                    labels, factor = result.objects.decode(result.probs), result.factor
                counts[mode].append(instance_counts(labels, truth))
                factors[mode].append(factor)
        for mode in MODES:
            scores = aggregate_instances(counts[mode])
            factor, passes = float(np.median(factors[mode])), sum(f != 1.0 for f in factors[mode])
            print(f"| {zoom:g} | {mode} | {scores['map']:.4f} | {scores['ap50']:.4f} | {factor:.2f} | {passes} |")


if __name__ == "__main__":
    main()
