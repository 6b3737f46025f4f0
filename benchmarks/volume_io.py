"""Volume reading speed: one BraTS-sized case (240x240x155, 4 channels) from .nii.gz, cut into axial slices.

Writes ``synthetic:brain?n=1&size=155x240x240&modalities=4`` as a 3D nnU-Net raw v2 dataset (int16 channels,
uint8 label, nibabel's default gzip level) to a temporary folder -- not timed -- then times
``VolumeDataset.read`` (4 channel files and the label, geometry checks, channels stacked to (4, 155, 240, 240))
plus cutting it into 155 axial (4, 240, 240) image / (240, 240) label slices as contiguous arrays, as a 2D
trainer would take them. The bar (issue #18): under 2 s. Best of ``--repeats`` runs (the first run includes
the page cache warm-up of the freshly written files only if the OS dropped them).

Run: ``PYTHONPATH=src python benchmarks/volume_io.py [--repeats 3]`` (about 20 s with the generation).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from unetzoo.volumes import VolumeDataset, brain_case, parse_brain_spec, write_dataset
from unetzoo.volumes.synthetic import REGIONS

SPEC = "synthetic:brain?n=1&size=155x240x240&modalities=4"


def read_and_slice(root: Path) -> tuple[float, int]:
    """Seconds to read the case and cut it into axial slices; the number of slices."""
    start = time.perf_counter()
    case = VolumeDataset(root).read("brain_0000")
    slices = [
        (np.ascontiguousarray(case.image[:, z]), np.ascontiguousarray(case.label[z]))
        for z in range(case.label.shape[0])
    ]
    return time.perf_counter() - start, len(slices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spec = parse_brain_spec(SPEC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "Dataset900_BrainBench"
        write_dataset(root, [brain_case(spec, 0)], channel_names=spec.channel_names, labels=REGIONS,
                      regions_class_order=[1, 2, 3])  # fmt: skip
        size = sum(p.stat().st_size for p in root.rglob("*.nii.gz")) / 1e6
        times = [read_and_slice(root) for _ in range(args.repeats)]
    best, count = min(t for t, _ in times), times[0][1]
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(f"case 4x155x240x240 int16 + label, {size:.1f} MB of .nii.gz")
    print(
        f"read + {count} axial slices: best {best:.2f} s of {args.repeats} ({', '.join(f'{t:.2f}' for t, _ in times)})"
    )
    print(f"bar < 2 s: {'met' if best < 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
