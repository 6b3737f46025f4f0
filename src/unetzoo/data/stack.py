"""Multi-page TIFF stacks (ISBI 2012 style ``train-volume.tif`` + ``train-labels.tif``): one slice per sample.

``--data`` is the image stack itself, or a folder holding exactly one such pair. The label stack is found by
replacing ``volume`` with ``labels`` (or ``label``) in the file name, or by a mask suffix
(``cells.tif`` <-> ``cells_mask.tif``). Sample ids are ``{stem}_{slice:03d}``. Only the requested page is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unetzoo.data import io
from unetzoo.data.folder import MASK_SUFFIXES
from unetzoo.data.problems import Problem, fail
from unetzoo.data.source import Source, to_channels

TIFF_SUFFIXES = (".tif", ".tiff")


def label_stack_of(image_stack: Path) -> Path | None:
    """The label stack paired with ``image_stack``, if one exists beside it."""
    name, stem, suffix = image_stack.name, image_stack.stem, image_stack.suffix
    names = [name.replace("volume", "labels"), name.replace("volume", "label")] if "volume" in name else []
    names += [f"{stem}{s}{suffix}" for s in MASK_SUFFIXES]
    return next((image_stack.with_name(n) for n in names if image_stack.with_name(n).is_file()), None)


def stack_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Image/label stack pairs in ``folder``."""
    stacks = sorted(p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and "volume" in p.name)
    return [(p, lab) for p in stacks if (lab := label_stack_of(p)) is not None]


class StackSource(Source):
    """Slices of a multi-page image stack and its label stack (see the module docstring)."""

    format = "stack"

    def __init__(self, path: Path, *, positive: int | None = None, invert_mask: bool = False) -> None:
        super().__init__(path.name, str(path), positive=positive, invert_mask=invert_mask)
        self.path = path
        labels = label_stack_of(path)
        if labels is None:
            what = "no label stack beside it (looked for *labels*.tif or a _mask/_label suffix)"
            self.findings.append(Problem("error", str(path), what, "put the label stack next to it"))
            return
        self.labels = labels
        n, self.info = io.stack_info(path)
        n_labels, label_info = io.stack_info(labels)
        if n != n_labels:
            what = f"has {n_labels} slices, the image stack {n}"
            self.findings.append(Problem("error", str(labels), what, "use stacks with one label slice per image"))
        size, label_size = (self.info.height, self.info.width), (label_info.height, label_info.width)
        if label_size != size:
            what = f"slices are {label_size[0]}x{label_size[1]} (HxW), image slices {size[0]}x{size[1]}"
            self.findings.append(Problem("error", str(labels), what, "use label slices of the image size"))
        self.label_info = label_info
        width = max(3, len(str(n - 1)))
        self.ids = [f"{path.stem}_{k:0{width}d}" for k in range(min(n, n_labels))]

    @property
    def root(self) -> str:
        return str(self.path)

    def where(self, i: int) -> str:
        return f"{self.path} slice {i}"

    def mask_where(self, i: int) -> str:
        return f"{self.labels} slice {i}"

    @property
    def in_channels(self) -> int:
        return 3 if self.info.channels == 4 else self.info.channels

    def files(self) -> list[Path]:
        return [self.path, self.labels]

    def headers(self, i: int) -> tuple[io.ImageInfo, io.ImageInfo]:
        return self.info, self.label_info

    def read_image(self, i: int) -> np.ndarray:
        image = io.read_stack_slice(self.path, i)
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        return to_channels(image, self.in_channels, self.where(i))

    def read_mask(self, i: int) -> np.ndarray:
        mask = io.read_stack_slice(self.labels, i)
        if mask.ndim == 3 and mask.shape[2] not in (3, 4):
            raise fail(self.mask_where(i), f"has {mask.shape[2]} channels", "store gray or RGB label slices")
        return mask[..., :3] if mask.ndim == 3 else mask
