"""``unetzoo predict --model nuclei`` on 100 images of 256x256: images per second, ONNX runtime beside torch.

    python benchmarks/pretrained_speed.py [--model nuclei] [--threads 2] [--repeats 3]

The images are the 100 of ``builtin:nuclei`` (natively 256x256 RGB, shipped with the package). For each engine
(``onnx``, ``torch``) and output (the mask; ``--instances``: labels, object table), the command runs as a child
process (``python -m unetzoo predict IMAGES --model M --engine E --out TMP``) with ``OMP_NUM_THREADS`` set to
``--threads``, interleaved over ``--repeats`` rounds; reported: the median wall time of the whole command
(interpreter start, model load, read, predict, write) as images/s, and with the object size given
(``--object-size``: one network pass per image, no estimate) beside the default per-image estimate. The bar
(issue 16): >= 20 images/s through the ONNX runtime on 2 threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from unetzoo.data.formats import BUILTIN_DIR
from unetzoo.pretrained import get

IMAGES = BUILTIN_DIR / "nuclei" / "images"


def run_once(model: str, engine: str, extra: list[str], threads: int) -> float:
    """Wall seconds of one ``unetzoo predict`` command over the 100 images."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "unetzoo", "predict", str(IMAGES), "--model", model, "--engine", engine]
        start = time.perf_counter()
        subprocess.run([*cmd, "--out", out, *extra], check=True, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    count = len(list(IMAGES.iterdir()))
    size = str(get(args.model).object_size)
    cases = {
        (engine, output, sizing): [*(["--instances"] if output == "objects" else []), *extra]
        for engine in ("onnx", "torch")
        for output in ("mask", "objects")
        for sizing, extra in (("estimated", []), ("given", ["--object-size", size]))
    }
    times: dict[tuple[str, str, str], list[float]] = {case: [] for case in cases}
    for _ in range(args.repeats):
        for case, extra in cases.items():
            times[case].append(run_once(args.model, case[0], extra, args.threads))
    print(f"{count} images of 256x256, {args.threads} threads, median of {args.repeats} (whole command)\n")
    print("| engine | output | object size | seconds | images/s |")
    print("|---|---|---|---:|---:|")
    for (engine, output, sizing), values in times.items():
        seconds = statistics.median(values)
        print(f"| {engine} | {output} | {sizing} | {seconds:.2f} | {count / seconds:.1f} |")


if __name__ == "__main__":
    main()
