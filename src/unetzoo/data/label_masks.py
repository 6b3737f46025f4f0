"""Instance labels from masks: each connected component of a mask's foreground is one object.

``unetzoo data instances PATH`` writes ``instances/<stem>.png`` (uint16, 0 = background, 1..N) beside ``images/``
of a folder dataset, so that data with masks only can train ``--task instances`` and be scored with
``--instances``. It is what StarDist's and Cellpose's users do by hand (``skimage.measure.label`` on a binary
mask), and it is exact where objects do not touch in the masks (one object per image, well separated cells).
Touching objects merge into one component; no rule can split them from a mask alone, so the summary names the
images with components far larger than the dataset's typical one, for the user to check.

The labels are written into a temporary folder renamed to ``instances/`` at the end: bad data or an interruption
leaves nothing behind, and an existing ``instances/`` is replaced only with ``force`` (never when the masks
themselves are read from it). Masks that hold one id per object already are the instance labels
(:mod:`unetzoo.data.labels`): deriving components from them would merge touching objects, so it is refused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unetzoo.data.folder import IMAGE_DIRS, INSTANCES_DIR, FolderSource, find_dir
from unetzoo.data.instances import components
from unetzoo.data.io import write_image
from unetzoo.data.problems import fail
from unetzoo.data.source import Source

LARGE = 4.0
"""A component this many times the median component area (over the dataset) may be several merged objects."""


@dataclass(frozen=True)
class LabelledMasks:
    """What :func:`label_masks` wrote: the folder, images and objects, and the images with large components."""

    folder: Path
    images: int
    objects: int
    large: tuple[str, ...]


def uint16_components(mask: np.ndarray, connectivity: int = 4) -> np.ndarray:
    """``uint16`` labels of the connected components of ``mask > 0`` (``connectivity`` 4 or 8 neighbours)."""
    labels = components(mask > 0, connectivity)
    if labels.max(initial=0) > np.iinfo(np.uint16).max:
        raise ValueError(f"{labels.max()} objects do not fit uint16 labels")
    return labels.astype(np.uint16)


def _target(src: Source, force: bool) -> Path:
    """The ``instances/`` folder to write, after refusing what would lose data or cannot hold it."""
    if not isinstance(src, FolderSource) or find_dir(src.root_dir, IMAGE_DIRS) is None:
        raise fail(src.spec, "instance labels are written beside images/ of a folder dataset", "use images/ + masks/")
    if src.spec.startswith("builtin:"):
        raise fail(src.spec, "the bundled datasets are part of the package and keep their labels", "copy it first")
    folder = src.root_dir / INSTANCES_DIR
    if folder.exists() and all(src.mask_path(i) == src.instance_path(i) for i in range(len(src))):
        raise fail(folder, "the masks are read from these instance labels", "nothing to derive; keep them")
    if not folder.exists() and src.has_instances:  # its components would merge the touching objects the ids keep apart
        masks = Path(src.mask_path(0)).parent
        raise fail(masks, "the masks hold one id per object, so they are the instance labels", "nothing to derive")
    if folder.exists() and not force:
        raise fail(folder, "exists", "pass --force to replace it, or move it away")
    return folder


def label_masks(src: Source, connectivity: int = 4, force: bool = False) -> LabelledMasks:
    """Write each sample's mask components as ``instances/<image stem>.png`` of folder dataset ``src``.

    Raises:
        UnetzooError: not a folder dataset with ``images/``, an ``instances/`` folder in the way (see the module
            docstring), or an image with more objects than uint16 holds.
    """
    if connectivity not in (4, 8):
        raise fail(f"--connectivity {connectivity}", "neighbourhoods are 4 or 8", "pass 4 or 8")
    folder = _target(src, force)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    areas: list[np.ndarray] = []
    try:
        for i in range(len(src)):
            try:
                labels = uint16_components(src.load(i)[1], connectivity)
            except ValueError as err:
                raise fail(src.mask_path(i), str(err), "split the image into tiles first") from err
            write_image(tmp / f"{Path(src.image_path(i)).stem}.png", labels)
            areas.append(np.bincount(labels.ravel())[1:])
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():  # replaced (--force): kept aside until the new labels are in place
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    everything = np.concatenate(areas) if areas else np.zeros(0, int)
    limit = LARGE * float(np.median(everything)) if everything.size else np.inf
    large = tuple(src.ids[i] for i, a in enumerate(areas) if (a > limit).any())
    return LabelledMasks(folder, len(src), int(everything.size), large)
