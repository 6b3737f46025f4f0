"""The dataset fingerprint: what the planner needs to know about a dataset, measured once and cached.

As nnU-Net's experiment planning (Isensee et al., Nature Methods 2021, "dataset fingerprint"), the fingerprint
summarises image sizes, channels, intensities and spacing; unetzoo adds what a CPU plan needs to choose a
working scale: the size of the objects (connected components of every foreground class: area, bounding-box
extent in pixels and relative to the image, count per image) and the boundary density of every class
(boundary pixels / class pixels), which predicts how much Dice a coarser working scale costs.

Image sizes and channels come from every header; object statistics from up to :data:`MAX_MASKS` masks evenly
spread over the dataset; intensity statistics from up to :data:`MAX_IMAGES` images. The result is cached in
``<cache>/fingerprints/<data sha256>.json`` (:func:`unetzoo.utils.cache.cache_dir`), so a second plan of the
same data reads one small file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from unetzoo.data.source import Source, effective_channels
from unetzoo.utils.atomic import atomic_write_text
from unetzoo.utils.cache import cache_dir
from unetzoo.utils.edges import boundary_pixels
from unetzoo.utils.polarity import negatively_skewed

VERSION = 2  # 2: intensity['negative_skew_share']
MAX_MASKS = 200
MAX_IMAGES = 32


@dataclass
class Fingerprint:
    """Summary statistics of a dataset (every list of three is the 5th, 50th and 95th percentile)."""

    hash: str
    name: str
    n_images: int
    channels: int
    channel_counts: dict[str, int]  # stored channels -> images: more than one key means the images disagree
    classes: int
    class_names: list[str]
    image_height: list[float]
    image_width: list[float]
    aspect_ratio: list[float]  # width / height
    spacing: list[float] | None  # physical pixel size where the format records it (none of the 2D formats do)
    intensity: dict[str, Any]
    foreground_fraction: dict[str, float]  # class -> mean fraction of pixels per image
    objects: dict[str, dict[str, Any]]  # class -> count/area/extent statistics of its connected components
    boundary_density: dict[str, float]  # class -> mean over images of boundary pixels / class pixels
    n_masks_measured: int
    version: int = VERSION
    per_image: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def mean_boundary_density(self) -> float:
        """Boundary density averaged over classes (background included), as MIoU averages over classes."""
        return float(np.mean(list(self.boundary_density.values()))) if self.boundary_density else 0.0

    def extent_px(self, q: int = 2) -> float:
        """Object extent (longest bounding-box side, px) at percentile index ``q`` (0: 5th, 1: median, 2: 95th)
        over the components of every foreground class; 0 when no mask has an object."""
        values = [stats["extent_px"][q] for stats in self.objects.values() if stats["count"]]
        return float(max(values)) if values else 0.0

    def extent_rel(self, q: int = 2) -> float:
        """As :meth:`extent_px`, relative to the longer side of the object's image."""
        values = [stats["extent_rel"][q] for stats in self.objects.values() if stats["count"]]
        return float(max(values)) if values else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(**data)


def _pct(values: list[float] | np.ndarray) -> list[float]:
    if len(values) == 0:
        return [0.0, 0.0, 0.0]
    return [round(float(v), 4) for v in np.percentile(np.asarray(values, dtype=np.float64), [5, 50, 95])]


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices evenly spread over ``range(n)`` (all of them when ``n <= k``)."""
    if n <= k:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, k).round()})


def _mask_statistics(source: Source, indices: list[int]) -> dict[str, Any]:
    classes, names = source.classes, source.class_names
    fractions: dict[str, list[float]] = {n: [] for n in names[1:]}
    density: dict[str, list[float]] = {n: [] for n in names}
    counts: dict[str, list[int]] = {n: [] for n in names[1:]}
    areas: dict[str, list[float]] = {n: [] for n in names[1:]}
    extents: dict[str, list[float]] = {n: [] for n in names[1:]}
    relative: dict[str, list[float]] = {n: [] for n in names[1:]}
    rho_per_image: list[float] = []
    for i in indices:
        mask = source.label_map.apply(source.read_mask(i))
        edge = boundary_pixels(mask)
        longer = max(mask.shape)
        image_rho: list[float] = []
        for c in range(classes):
            region = mask == c
            area = int(region.sum())
            if area:
                rho = float((edge & region).sum()) / area
                density[names[c]].append(rho)
                image_rho.append(rho)
            if c == 0:
                continue
            fractions[names[c]].append(area / mask.size)
            labels, n = ndi.label(region)
            counts[names[c]].append(n)
            if n:
                boxes = ndi.find_objects(labels)
                sides = np.array([[s[0].stop - s[0].start, s[1].stop - s[1].start] for s in boxes])
                extent = sides.max(axis=1)
                extents[names[c]] += extent.tolist()
                relative[names[c]] += (extent / longer).tolist()
                areas[names[c]] += np.bincount(labels.ravel(), minlength=n + 1)[1:].tolist()
        rho_per_image.append(float(np.mean(image_rho)) if image_rho else 0.0)
    objects = {
        n: {
            "count": int(sum(counts[n])),
            "per_image": _pct(counts[n]),
            "area_px": _pct(areas[n]),
            "extent_px": _pct(extents[n]),
            "extent_rel": _pct(relative[n]),
        }
        for n in names[1:]
    }
    return {
        "foreground_fraction": {n: round(float(np.mean(v)), 5) if v else 0.0 for n, v in fractions.items()},
        "boundary_density": {n: round(float(np.mean(v)), 5) for n, v in density.items() if v},
        "objects": objects,
        "per_image": {"boundary_density": [round(r, 5) for r in rho_per_image]},
    }


def _intensity(source: Source, indices: list[int]) -> dict[str, Any]:
    means, stds, lows, highs = [], [], [], []
    dark_objects = 0
    dtype = "uint8"
    for i in indices:
        image = source.read_image(i)
        dtype = str(image.dtype)
        dark_objects += negatively_skewed(image)
        planes = image.reshape(-1, image.shape[-1]).astype(np.float64) if image.ndim == 3 else image.reshape(-1, 1)
        means.append(planes.mean(axis=0))
        stds.append(planes.std(axis=0))
        lows.append(np.percentile(planes, 0.5, axis=0))
        highs.append(np.percentile(planes, 99.5, axis=0))
    if not indices:
        return {"dtype": dtype}

    def per_channel(values: list[np.ndarray]) -> list[float]:
        return [round(float(v), 4) for v in np.mean(values, axis=0)]

    return {
        "dtype": dtype,
        "mean": per_channel(means),
        "std": per_channel(stds),
        "p0_5": per_channel(lows),
        "p99_5": per_channel(highs),
        "min": round(float(np.min(lows)), 4),
        "max": round(float(np.max(highs)), 4),
        "image_mean_spread": round(float(np.std([m.mean() for m in means])), 4),  # exposure varies by image
        "negative_skew_share": round(dark_objects / len(indices), 4),  # images with dark objects on bright
    }


def compute_fingerprint(source: Source) -> Fingerprint:
    """Measure ``source`` (no cache; see :func:`fingerprint`)."""
    heights, widths, channel_counts = [], [], {}
    for i in range(len(source)):
        info, _ = source.headers(i)
        heights.append(info.height)
        widths.append(info.width)
        key = str(effective_channels(info))
        channel_counts[key] = channel_counts.get(key, 0) + 1
    masks = _spread(len(source), MAX_MASKS)
    stats = _mask_statistics(source, masks)
    aspect = np.asarray(widths, dtype=np.float64) / np.maximum(np.asarray(heights, dtype=np.float64), 1)
    return Fingerprint(
        hash=source.fingerprint(),
        name=source.name,
        n_images=len(source),
        channels=source.in_channels,
        channel_counts=channel_counts,
        classes=source.classes,
        class_names=list(source.class_names),
        image_height=_pct(heights),
        image_width=_pct(widths),
        aspect_ratio=_pct(aspect),
        spacing=None,
        intensity=_intensity(source, _spread(len(source), MAX_IMAGES)),
        foreground_fraction=stats["foreground_fraction"],
        objects=stats["objects"],
        boundary_density=stats["boundary_density"],
        n_masks_measured=len(masks),
        per_image=stats["per_image"],
    )


def cached_fingerprint(source: Source, *, use_cache: bool = True) -> Fingerprint:
    """The fingerprint of ``source``, read from the cache when this exact data was measured before."""
    digest = source.fingerprint()
    path = cache_dir("fingerprints") / f"{digest}.json"
    if use_cache and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION:
                return Fingerprint.from_dict(data)
        except (OSError, ValueError, TypeError):
            pass  # an unreadable cache entry is measured again and rewritten
    result = compute_fingerprint(source)
    if use_cache:
        atomic_write_text(path, json.dumps(result.to_dict(), indent=1))
    return result
