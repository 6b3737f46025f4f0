"""The common face of every dataset format: (image, mask) pairs addressed by index, with stable ids.

A source indexes its files when built, recording structural problems (missing masks, unsupported files, ...)
in :attr:`Source.findings` instead of raising, so ``unetzoo data check`` can list them all;
:func:`unetzoo.data.open_source` raises the first. Pixels are read on demand (``load``), so a source is cheap to
build and to send to DataLoader workers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from abc import ABC, abstractmethod
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np

from unetzoo.data.io import IMAGE_EXTENSIONS, ImageInfo
from unetzoo.data.labels import Finding, Inference, LabelMap, MaskStats, format_values, infer_label_map, scan_mask
from unetzoo.data.problems import DataError, Problem, fail

Declared = tuple[tuple[int, ...], tuple[str, ...], bool]


class Source(ABC):
    """Base class of the dataset readers.

    Attributes:
        name: short dataset name (folder name, ``builtin:nuclei``, the synthetic spec).
        spec: what reopens it with :func:`unetzoo.data.open_source` (absolute path or ``builtin:``/``synthetic:``).
        ids: stable, unique sample ids in natural sort order.
        findings: structural problems found while indexing.
    """

    format: ClassVar[str]
    declared_in: ClassVar[str] = "labels.json"
    empty_masks_expected: ClassVar[bool] = False
    """Samples without foreground are normal (slices of a volume outside the structure): not worth a warning."""

    def __init__(self, name: str, spec: str, *, positive: int | None = None, invert_mask: bool = False) -> None:
        self.name = name
        self.spec = spec
        self.positive = positive
        self.invert_mask = invert_mask
        self.ids: list[str] = []
        self.findings: list[Problem] = []
        self._label_map: LabelMap | None = None
        self._mask_stats: dict[int, MaskStats] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, {len(self)} samples)"

    # --- what each format provides -------------------------------------------------------------------------
    @property
    @abstractmethod
    def in_channels(self) -> int:
        """Channels of every image returned by :meth:`load` (gray images are replicated in an RGB dataset)."""

    @abstractmethod
    def read_image(self, i: int) -> np.ndarray:
        """Native-dtype ``HxWxC`` image (``C = in_channels``)."""

    @abstractmethod
    def read_mask(self, i: int) -> np.ndarray:
        """Raw mask as stored (``HxW``, or ``HxWx3`` for colour-coded masks)."""

    @abstractmethod
    def headers(self, i: int) -> tuple[ImageInfo, ImageInfo]:
        """Image and mask headers, read without decoding pixels."""

    def verify(self, i: int) -> None:
        """Integrity of sample ``i``'s files without decoding pixels (default: headers only)."""
        self.headers(i)

    def files(self) -> list[Path]:
        """The files whose content defines the data (for :meth:`fingerprint`)."""
        return []

    def declared_labels(self) -> Declared | None:
        """Classes declared by the dataset itself, if any."""
        return None

    def image_path(self, i: int) -> str | None:
        """Path of sample ``i``'s image file, if it has its own."""
        return None

    def mask_path(self, i: int) -> str | None:
        return None

    def instance_path(self, i: int) -> str | None:
        """Path of sample ``i``'s instance label image (``instances/<stem>.png``), if it has its own."""
        return None

    @property
    def has_instances(self) -> bool:
        """Every sample has instance labels (:meth:`read_instances` returns an array for each)."""
        return False

    def read_instances(self, i: int) -> np.ndarray | None:
        """Instance labels of sample ``i`` (``HxW`` int32, 0 = background, objects ``1..N``), None if it has none.

        See :mod:`unetzoo.data.instances` for what is accepted and how ids are relabelled.
        """
        return None

    def where(self, i: int) -> str:
        """How messages name sample ``i``'s image."""
        return self.image_path(i) or f"{self.name}[{self.ids[i]}]"

    def mask_where(self, i: int) -> str:
        return self.mask_path(i) or f"{self.where(i)} mask"

    # --- shared behaviour ----------------------------------------------------------------------------------
    @property
    def root(self) -> str:
        """How messages name the whole dataset."""
        return self.spec

    def mask_stats(self, i: int) -> MaskStats:
        """Value histogram of mask ``i`` (decoded once, cached)."""
        if i not in self._mask_stats:
            self._mask_stats[i] = scan_mask(self.read_mask(i), lossy=self.mask_lossy(i))
        return self._mask_stats[i]

    def mask_lossy(self, i: int) -> bool:
        """Whether mask ``i`` is stored lossily (a JPEG file; the readers check that content matches extension)."""
        return IMAGE_EXTENSIONS.get(Path(self.mask_path(i) or "").suffix.lower()) == "JPEG"

    def infer_labels(self, stats: dict[int, MaskStats]) -> Inference:
        return infer_label_map(
            stats,
            positive=self.positive,
            invert=self.invert_mask,
            declared=self.declared_labels(),
            declared_in=self.declared_in,
        )

    def problem(self, finding: Finding) -> Problem:
        file = self.root if finding.index is None else self.mask_where(finding.index)
        return Problem(finding.severity, file, finding.what, finding.fix)

    @property
    def label_map(self) -> LabelMap:
        """Mask value -> class id; inferred from all masks on first use unless declared or ``--positive``."""
        if self._label_map is None:
            needs_scan = self.positive is None and self.declared_labels() is None
            stats = {i: self.mask_stats(i) for i in range(len(self))} if needs_scan else {}
            inference = self.infer_labels(stats)
            errors = [f for f in inference.findings if f.severity == "error"]
            if errors or inference.label_map is None:
                raise DataError(self.problem(errors[0]))
            self._label_map = inference.label_map
        return self._label_map

    def use_label_map(self, label_map: LabelMap) -> None:
        """Adopt a label map already inferred (by ``check_source`` over the same masks)."""
        self._label_map = label_map

    @property
    def classes(self) -> int:
        """Number of classes including background (binary masks: 2)."""
        return self.label_map.classes

    @property
    def class_names(self) -> list[str]:
        return list(self.label_map.names)

    def load_native(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image HxWxC in its stored dtype, mask HxW int64 class ids)``."""
        image = self.read_image(i)
        raw = self.read_mask(i)
        if raw.shape[:2] != image.shape[:2]:
            raise fail(
                self.mask_where(i),
                f"mask is {raw.shape[0]}x{raw.shape[1]} (HxW) but its image is {image.shape[0]}x{image.shape[1]}",
                "resize or re-export the mask to the image size",
            )
        label_map = self.label_map
        ids = label_map.apply(raw)
        if (ids < 0).any():
            keys = scan_mask(raw).keys(label_map.colour)
            values = format_values({v for v in keys if label_map.class_of(v) < 0}, label_map.colour)
            raise fail(
                self.mask_where(i),
                f"values {values} are no class of this dataset ({self.label_map.describe()})",
                f"run `unetzoo data check {shlex.quote(self.spec)}` and fix the mask",
            )
        return image, ids

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image HxWxC float32 raw intensities, mask HxW int64 class ids)``."""
        image, mask = self.load_native(i)
        return image.astype(np.float32), mask

    def fingerprint(self) -> str:
        """sha256 over format, ids, mask options and the content of every data file."""
        digest = hashlib.sha256()
        meta = {
            "format": self.format,
            "spec": self.spec if not self.files() else None,
            "ids": self.ids,
            "positive": self.positive,
            "invert_mask": self.invert_mask,
        }
        digest.update(json.dumps(meta, sort_keys=True).encode())
        for path in self.files():
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                for block in iter(partial(fh.read, 1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``img2`` before ``img10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def to_channels(image: np.ndarray, channels: int, where: str) -> np.ndarray:
    """``HxW`` or ``HxWxC`` -> ``HxWxchannels``: gray is replicated to RGB; other mismatches are errors."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == channels:
        return image
    if image.shape[2] == 1:
        return np.repeat(image, channels, axis=2)
    raise fail(where, f"has {image.shape[2]} channels, the dataset {channels}", "give all images the same channels")


def effective_channels(info: ImageInfo) -> int:
    """Channels :func:`unetzoo.data.io.read_image` returns for an image with this header."""
    if info.palette:
        return 3
    if info.alpha:  # RGBA -> RGB, gray + alpha -> gray
        return info.channels - 1
    return info.channels
