"""2D training from 3D volumes: every slice of every case is a sample, and splits are made by case.

:class:`VolumeSlices` is a :class:`~unetzoo.data.source.Source` over a 3D nnU-Net raw v2 folder or
``synthetic:brain?...``: sample ``case:z042`` is slice 42 of ``case`` along the chosen axis, its channels the
case's modalities (SD-UNet Sec. 3.4.2: the four MRI sequences as input channels, "3D slices converted to 2D
slices"; UNet# trains BraTS, LiTS and LIDC the same way). A case is normalised once, as a whole
(:mod:`unetzoo.volumes.intensity`), when first loaded and kept in a small LRU cache, so slices of one case
share its statistics and cost one read. ``crop`` centre-crops every slice (SD-UNet: 240x240 to 144x144); the
network never sees outside the crop, and prediction labels it background.

Splits are over :attr:`cases` (never slices), so the slices of one patient are never in both train and
validation; :meth:`training_slices` picks a split's training slices with foreground in mind.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.io import ImageInfo
from unetzoo.data.labels import MaskStats, scan_mask
from unetzoo.data.regions import Regions
from unetzoo.data.source import Declared, Source
from unetzoo.errors import UnetzooError
from unetzoo.volumes.geometry import Geometry
from unetzoo.volumes.intensity import normalize_volume, parse_window
from unetzoo.volumes.io import Case, check_grid, read_info, read_volume
from unetzoo.volumes.nnunet import VolumeDataset
from unetzoo.volumes.synthetic import LABELS, REGIONS, brain_case, parse_brain_spec

AXES = ("z", "y", "x")
"""Slice axes of a ``(z, y, x)`` array: ``z`` axial for a standard acquisition, ``y`` coronal, ``x`` sagittal."""
CACHE_BYTES = 2 << 30
"""Memory the normalised cases kept by one source may take (at least two cases are kept)."""


@dataclass(frozen=True)
class SliceOptions:
    """How volumes become 2D samples; recorded in checkpoints (``volume``) so eval/predict slice alike.

    Args:
        axis: ``z``, ``y`` or ``x``.
        window: a CT window (see :mod:`unetzoo.volumes.intensity`) instead of the nonzero z-score.
        normalize: normalise each volume (False: raw intensities; a per-slice ``--normalize`` does it instead).
        crop: centre crop ``(H, W)`` of every slice (zero-padded if the slice is smaller).
    """

    axis: str = "z"
    window: tuple[float, float] | None = None
    normalize: bool = True
    crop: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.axis not in AXES:
            raise UnetzooError(f"--slice-axis {self.axis!r}: choose one of {', '.join(AXES)}", exit_code=2)
        if self.crop is not None and min(self.crop) < 1:
            raise UnetzooError(f"--crop {self.crop}: give a positive height and width", exit_code=2)

    @classmethod
    def from_flags(
        cls,
        axis: str | None = None,
        window: str | None = None,
        normalize: bool = True,
        crop: Sequence[int] | None = None,
    ) -> SliceOptions:
        """From the CLI's ``--slice-axis``, ``--window`` (preset or LEVEL,WIDTH) and ``--crop H W``."""
        return cls(
            axis=axis or "z",
            window=parse_window(window) if window else None,
            normalize=normalize,
            crop=(int(crop[0]), int(crop[1])) if crop else None,
        )

    @property
    def dim(self) -> int:
        """The axis of a ``(z, y, x)`` array."""
        return AXES.index(self.axis)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """A raw ``(C, z, y, x)`` volume -> float32 as the slices are cut from."""
        if not self.normalize:
            return image.astype(np.float32)
        return normalize_volume(image, self.window)

    def to_dict(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "window": list(self.window) if self.window else None,
            "normalize": self.normalize,
            "crop": list(self.crop) if self.crop else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SliceOptions:
        window, crop = data.get("window"), data.get("crop")
        return cls(
            data.get("axis", "z"),
            tuple(window) if window else None,  # type: ignore[arg-type]
            bool(data.get("normalize", True)),
            tuple(crop) if crop else None,  # type: ignore[arg-type]
        )


def centre_crop(array: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """The centre ``size`` window of the last two axes, zero-padded where the array is smaller."""
    if size is None:
        return array
    pads, cuts = [], []
    for have, want in zip(array.shape[-2:], size, strict=True):
        pad = max(want - have, 0)
        pads.append((pad // 2, pad - pad // 2))
        start = max(have - want, 0) // 2
        cuts.append(slice(start, start + min(have, want)))
    cropped = array[(..., *cuts)]
    if any(sum(p) for p in pads):
        cropped = np.pad(cropped, [(0, 0)] * (array.ndim - 2) + pads)
    return cropped


def uncrop(array: np.ndarray, size: tuple[int, int] | None, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`centre_crop`: place a cropped ``(..., H, W)`` array in zeros of ``shape`` (last axes)."""
    if size is None:
        return array
    out = np.zeros((*array.shape[:-2], *shape), dtype=array.dtype)
    src, dst = [], []
    for have, want in zip(shape, size, strict=True):
        pad, start = max(want - have, 0) // 2, max(have - want, 0) // 2
        n = min(have, want)
        src.append(slice(pad, pad + n))
        dst.append(slice(start, start + n))
    out[(..., *dst)] = array[(..., *src)]
    return out


def slice_id(case: str, axis: str, k: int) -> str:
    return f"{case}:{axis}{k:03d}"


class VolumeSlices(Source):
    """Slices of a volume dataset as 2D samples (see the module docstring).

    Args:
        spec: a 3D nnU-Net raw v2 folder or ``synthetic:brain?...``.
        options: slicing, normalisation and crop.
    """

    format = "volumes"
    declared_in = "dataset.json"
    empty_masks_expected = True

    def __init__(self, spec: str, options: SliceOptions | None = None) -> None:
        self.options = options or SliceOptions()
        self._cache: OrderedDict[str, Case] = OrderedDict()
        self._foreground: dict[str, np.ndarray] = {}
        self._slice_stats: dict[str, list[MaskStats]] = {}
        if spec.startswith("synthetic:"):
            brain = parse_brain_spec(spec)
            super().__init__(spec, brain.spec)
            self._brain, self._dataset = brain, None
            self.channel_names = list(brain.channel_names)
            self.cases = [f"brain_{i:04d}" for i in range(brain.n)]
            labels: dict[str, Any] = dict(LABELS)
            self.regions: Regions | None = Regions.from_labels(REGIONS, (1, 2, 3))
            self._shapes = {case: brain.size for case in self.cases}
        else:
            root = Path(spec).expanduser().resolve()
            super().__init__(root.name, str(root))
            self._brain, self._dataset = None, VolumeDataset(root)
            self.channel_names = list(self._dataset.channel_names)
            self.cases = list(self._dataset.ids)
            meta = self._dataset.meta
            labels = self._dataset.labels
            self.regions = None
            if "regions_class_order" in meta:
                self.regions = Regions.from_labels(labels, meta["regions_class_order"])
                n = max(i for ids in self.regions.ids for i in ids) + 1
                labels = {"background": 0, **{f"label_{i}": i for i in range(1, n)}}
            self._shapes = {case: self._index_case(case) for case in self.cases}
        ordered = sorted(labels.items(), key=lambda kv: kv[1])
        self._declared: Declared = (tuple(v for _, v in ordered), tuple(k for k, _ in ordered), False)
        self._where: list[tuple[str, int]] = []
        for case in self.cases:
            for k in range(self._shapes[case][self.options.dim]):
                self.ids.append(slice_id(case, self.options.axis, k))
                self._where.append((case, k))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to DataLoader workers) without the cached volumes: each worker fills its own cache."""
        return {**self.__dict__, "_cache": OrderedDict()}

    def _index_case(self, case: str) -> tuple[int, int, int]:
        """Read ``case``'s label: its shape, and what its slices hold; and its channels' headers (not their
        voxels): each on the label's grid, so a mismatched case is refused on opening, not mid-training."""
        channels, label_path = self._dataset.files(case)  # type: ignore[union-attr]
        label = read_volume(label_path)
        first, grids = channels[0], [read_info(path) for path in channels]
        for path, (shape, geometry) in zip(channels[1:], grids[1:], strict=True):
            check_grid(path, shape, geometry, first, *grids[0])
        check_grid(label_path, label.array.shape, label.geometry, first, *grids[0])
        self._scan_label(case, label.array)
        return label.array.shape  # type: ignore[return-value]

    def _scan_label(self, case: str, label: np.ndarray) -> None:
        """Per slice of ``case``: the mask histogram ``data check`` reads, and whether it holds foreground."""
        planes = centre_crop(np.moveaxis(label, self.options.dim, 0), self.options.crop)
        self._slice_stats[case] = [scan_mask(plane) for plane in planes]
        self._foreground[case] = planes.any(axis=(1, 2))

    # --- cases -----------------------------------------------------------------------------------------
    def read_case(self, case: str) -> Case:
        """``case`` as stored (raw intensities, full size)."""
        if self._brain is not None:
            return brain_case(self._brain, self.cases.index(case))
        return self._dataset.read(case)  # type: ignore[union-attr]

    def load_case(self, case: str) -> Case:
        """``case`` normalised (float32 image), from the LRU cache."""
        if case in self._cache:
            self._cache.move_to_end(case)
            return self._cache[case]
        raw = self.read_case(case)
        loaded = Case(case, self.options.prepare(raw.image), raw.label, raw.geometry, raw.reference)
        self._cache[case] = loaded
        while len(self._cache) > self.cache_cases:
            self._cache.popitem(last=False)
        return loaded

    @property
    def cache_cases(self) -> int:
        """How many normalised cases the LRU cache keeps: :data:`CACHE_BYTES` of the largest (float32), >= 2."""
        largest = max(int(np.prod(shape)) for shape in self._shapes.values()) * self.in_channels * 4
        return max(2, CACHE_BYTES // largest)

    def geometry(self, case: str) -> Geometry:
        return self.load_case(case).geometry

    def foreground(self, case: str) -> np.ndarray:
        """Per slice along the axis: does the (cropped) label hold foreground?"""
        if case not in self._foreground:
            label = self.load_case(case).label
            assert label is not None
            self._scan_label(case, label)
        return self._foreground[case]

    def mask_stats(self, i: int) -> MaskStats:
        """Slice ``i``'s mask histogram, from one scan of its case's label (a 3D dataset scans them on opening)."""
        case, k = self._where[i]
        self.foreground(case)
        return self._slice_stats[case][k]

    def slices_of(self, cases: Sequence[str]) -> list[str]:
        """Every slice id of ``cases``."""
        wanted = set(cases)
        return [sid for sid, (case, _) in zip(self.ids, self._where, strict=True) if case in wanted]

    def training_slices(self, cases: Sequence[str], seed: int = 0, background: float = 1.0) -> list[str]:
        """The training samples of ``cases``: every slice with foreground, plus ``background`` times as many
        slices without (drawn with ``seed``; all of them if there are fewer), so that at least about half of
        what the network sees holds the structures to segment (nnU-Net forces a third of its patches to hold
        foreground, ``oversample_foreground_percent``; sampling whole slices, we choose them up front)."""
        fg, bg = [], []
        for case in cases:
            for k, has in enumerate(self.foreground(case)):
                (fg if has else bg).append(slice_id(case, self.options.axis, k))
        keep = min(len(bg), round(background * len(fg))) if fg else len(bg)
        chosen = np.random.default_rng(seed).choice(len(bg), size=keep, replace=False) if keep else []
        picked = set(fg) | {bg[j] for j in chosen}
        return [sid for sid in self.ids if sid in picked]

    def case_of(self, i: int) -> str:
        return self._where[i][0]

    # --- Source ------------------------------------------------------------------------------------------
    def declared_labels(self) -> Declared:
        return self._declared

    @property
    def in_channels(self) -> int:
        return len(self.channel_names)

    def _plane(self, array: np.ndarray, k: int) -> np.ndarray:
        """Slice ``k`` along the axis of a ``(..., z, y, x)`` array, centre-cropped."""
        return centre_crop(np.take(array, k, axis=array.ndim - 3 + self.options.dim), self.options.crop)

    def read_image(self, i: int) -> np.ndarray:
        case, k = self._where[i]
        return np.ascontiguousarray(self._plane(self.load_case(case).image, k).transpose(1, 2, 0))

    def read_mask(self, i: int) -> np.ndarray:
        case, k = self._where[i]
        label = self.load_case(case).label
        assert label is not None
        return np.ascontiguousarray(self._plane(label, k))

    def headers(self, i: int) -> tuple[ImageInfo, ImageInfo]:
        case, _ = self._where[i]
        shape = [s for a, s in enumerate(self._shapes[case]) if a != self.options.dim]
        h, w = self.options.crop or shape
        return ImageInfo("volume", h, w, self.in_channels, "float32"), ImageInfo("volume", h, w, 1, "uint8")

    def where(self, i: int) -> str:
        return f"{self.spec}[{self.ids[i]}]"

    def mask_where(self, i: int) -> str:
        """How messages name sample ``i``'s label: its case's label file and the slice (3D nnU-Net data)."""
        if self._dataset is None:
            return super().mask_where(i)
        case, k = self._where[i]
        return f"{self._dataset.files(case)[1]} (slice {self.options.axis}{k:03d})"

    def files(self) -> list[Path]:
        if self._dataset is None:
            return []
        files = [self._dataset.root / "dataset.json"]
        for case in self.cases:
            channels, label = self._dataset.files(case)
            files += [*channels, label]
        return files

    def fingerprint(self) -> str:
        """The 2D fingerprint plus the slicing options (another axis or crop is other data)."""
        digest = hashlib.sha256(super().fingerprint().encode())
        digest.update(json.dumps(self.options.to_dict(), sort_keys=True).encode())
        return digest.hexdigest()
