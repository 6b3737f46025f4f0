"""How good and how cheap is the per-image object-size estimate of ``unetzoo predict --model nuclei``?

    python benchmarks/size_estimate.py [--model nuclei] [--data builtin:nuclei] [--zooms 0.5,1,2] [--threads 2]

Every image of ``--data`` (with instance labels) is zoomed by each factor (as ``benchmarks/object_size.py``), run
once through the pretrained model at its trained scale, and its object size estimated two ways from the same
probabilities:

* ``decoded``: the median equivalent diameter of the decoded objects (seeded watershed with h-maxima seeds);
* ``mean``: :func:`unetzoo.instances.scale.mean_diameter`, the foreground area over the number of seeds (what
  :class:`~unetzoo.instances.scale.ObjectSizer` uses).

Prints, per zoom and estimator, the error against the labels' median diameter (median and 90th percentile of
``|log(estimate / truth)|``), the median ratio, how many images would take a second pass (estimate outside the
model's seen size range), on how many the two estimators agree about that, and the seconds the estimator took.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from object_size import zoomed  # this folder is the script's path
from unetzoo.data import open_source
from unetzoo.data.instances import require_instances
from unetzoo.instances.scale import mean_diameter, median_diameter
from unetzoo.pretrained import get, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--data", default="builtin:nuclei")
    parser.add_argument("--zooms", default="0.5,1,2")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    objects = load_pretrained(args.model, engine="onnx", threads=args.threads)
    low, high = get(args.model).object_size_range or (0.0, float("inf"))
    estimators = {
        "decoded": lambda probs: median_diameter(objects.decode(probs)),
        "mean": lambda probs: mean_diameter(objects, probs),
    }
    source = open_source(args.data)
    print(f"{args.model}: seen object sizes {low}-{high} px; {len(source)} images of {args.data}\n")
    print(
        "| zoom | estimator | median abs log error | 90th pct | median estimate / truth | second passes "
        "| agrees with decoded | seconds |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for zoom in (float(z) for z in args.zooms.split(",")):
        truth, estimates = [], {name: [] for name in estimators}
        seconds = dict.fromkeys(estimators, 0.0)
        for i in range(len(source)):
            image, labels = zoomed(source.load(i)[0], require_instances(source, i), zoom)
            true = median_diameter(labels)
            if true is None:
                continue
            probs = objects.probabilities(image, source.ids[i])
            truth.append(true)
            for name, estimate in estimators.items():
                start = time.perf_counter()
                value = estimate(probs)
                seconds[name] += time.perf_counter() - start
                estimates[name].append(np.nan if value is None else value)
        true_sizes = np.asarray(truth)
        second = {name: ~((np.asarray(v) >= low) & (np.asarray(v) <= high)) for name, v in estimates.items()}
        for name, values in estimates.items():
            ratio = np.asarray(values) / true_sizes
            error = np.abs(np.log(ratio))
            agree = int(np.sum(second[name] == second["decoded"]))
            print(
                f"| {zoom:g} | {name} | {np.nanmedian(error):.3f} | {np.nanpercentile(error, 90):.3f} "
                f"| {np.nanmedian(ratio):.3f} | {int(second[name].sum())} | {agree}/{len(values)} "
                f"| {seconds[name]:.2f} |"
            )


if __name__ == "__main__":
    main()
