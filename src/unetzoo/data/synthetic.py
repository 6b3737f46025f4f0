"""Generated datasets with exact masks, deterministic by seed, any size and count: for tests and quick starts.

Spec syntax: ``synthetic:NAME`` or ``synthetic:NAME?key=value&...`` with keys ``n`` (samples, default 64),
``size`` (``128`` or ``HxW``, default 128), ``seed`` (default 0) and ``channels`` (1 or 3). Example:
``synthetic:nuclei?n=32&size=128&seed=0``. Sample ``i`` depends only on ``(seed, i)``, so any subset can be
generated in any order (DataLoader workers included).

* ``membranes``: EM-like. Voronoi cells on smoothly warped coordinates, dark noisy membranes 3-5 px wide, dark
  organelles inside the cells, blur and noise. Mask polarity as the shared ISBI 2012 copy: 1 = cell, 0 = membrane.
  Gray by default.
* ``nuclei``: bright elliptical blobs on an uneven, smoothly varying background, blur and noise; 1 = nucleus.
  RGB (gray replicated, like most DSB 2018 fluorescence images) by default.

Both have instance labels (:meth:`SyntheticSource.read_instances`): one id per nucleus (a later blob covers an
earlier one where they overlap, so an object may be cut in pieces or vanish) or per membrane-free cell.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import parse_qsl

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from unetzoo.data.instances import relabel
from unetzoo.data.io import ImageInfo
from unetzoo.data.problems import fail
from unetzoo.data.source import Declared, Source

Sample = tuple[np.ndarray, np.ndarray]
"""``(image float32 in [0, 1], instance labels int32: 0 background, 1.. objects)`` of a generator."""


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Uniform(0, 1) values on a coarse ``(cells+1)^2`` grid, bicubically interpolated to ``HxW``."""
    coarse = rng.uniform(0.0, 1.0, size=(cells + 1, cells + 1))
    yy = np.linspace(0, cells, h, dtype=np.float32)[:, None].repeat(w, axis=1)
    xx = np.linspace(0, cells, w, dtype=np.float32)[None, :].repeat(h, axis=0)
    return ndimage.map_coordinates(coarse, [yy, xx], order=3, mode="nearest").astype(np.float32)


def _finish(rng: np.random.Generator, image: np.ndarray, blur: float, noise: float) -> np.ndarray:
    """Blur, add Gaussian noise, quantize to uint8."""
    image = ndimage.gaussian_filter(image, blur) + rng.normal(0.0, noise, image.shape)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _ellipse(
    rng: np.random.Generator, h: int, w: int, radius: float, centre: tuple[float, float] | None = None
) -> tuple[tuple[slice, slice], np.ndarray]:
    """A random ellipse: its bounding-box slices and the boolean inside within them."""
    cy, cx = centre if centre is not None else (rng.uniform(0, h), rng.uniform(0, w))
    a, b = radius, radius * rng.uniform(0.6, 1.0)
    angle = rng.uniform(0, np.pi)
    y0, y1 = max(0, int(cy - a) - 1), min(h, int(cy + a) + 2)
    x0, x1 = max(0, int(cx - a) - 1), min(w, int(cx + a) + 2)
    dy, dx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = dy - cy, dx - cx
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return (slice(y0, y1), slice(x0, x1)), (u / a) ** 2 + (v / b) ** 2 <= 1.0


def nuclei(rng: np.random.Generator, h: int, w: int) -> Sample:
    """Blobs on an uneven background (mask: 1 = nucleus); the labels number the blobs."""
    background = 0.04 + 0.22 * _smooth_field(rng, h, w, 3) * rng.uniform(0.3, 1.0)
    objects = np.zeros((h, w), np.float32)
    labels = np.zeros((h, w), np.int32)
    mean_radius = rng.uniform(5.0, 9.0)
    count = rng.poisson(rng.uniform(0.1, 0.3) * h * w / (np.pi * mean_radius**2))
    for k in range(count):
        box, inside = _ellipse(rng, h, w, mean_radius * rng.uniform(0.6, 1.4))
        objects[box] = np.maximum(objects[box], inside * rng.uniform(0.3, 0.75))
        labels[box][inside] = k + 1
    texture = 0.85 + 0.3 * _smooth_field(rng, h, w, max(2, min(h, w) // 8))
    return background + objects * texture, labels


def membranes(rng: np.random.Generator, h: int, w: int) -> Sample:
    """Voronoi cells with dark membranes (mask: 1 = cell, 0 = membrane); the labels number the cells."""
    cell = rng.uniform(20.0, 36.0)
    seeds = rng.uniform((0, 0), (h, w), size=(max(2, round(h * w / cell**2)), 2))
    amplitude = cell / 2.5
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy += amplitude * (_smooth_field(rng, h, w, max(2, h // 48)) - 0.5)
    xx += amplitude * (_smooth_field(rng, h, w, max(2, w // 48)) - 0.5)
    _, labels = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], axis=1))
    labels = labels.reshape(h, w)
    edges = np.zeros((h, w), bool)
    edges[1:] |= labels[1:] != labels[:-1]
    edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    membrane = ndimage.binary_dilation(edges, iterations=int(rng.integers(1, 3)))
    cells = rng.uniform(0.5, 0.8, size=len(seeds)).astype(np.float32)[labels]
    cells *= 0.85 + 0.3 * _smooth_field(rng, h, w, max(2, min(h, w) // 16))
    for _ in range(len(seeds) // 2):
        box, inside = _ellipse(rng, h, w, rng.uniform(2.0, 5.0))
        cells[box] = np.where(inside, cells[box] * 0.55, cells[box])
    image = np.where(membrane, rng.uniform(0.1, 0.25) + 0.1 * rng.random((h, w)), cells).astype(np.float32)
    return image, np.where(membrane, 0, labels + 1).astype(np.int32)


GENERATORS: dict[str, tuple[Callable[[np.random.Generator, int, int], Sample], tuple[str, str], int]] = {
    "membranes": (membranes, ("membrane", "cell"), 1),
    "nuclei": (nuclei, ("background", "nucleus"), 3),
}
"""name -> (generator, class names of mask values 0 and 1, default channels)."""

_KEYS = ("n", "size", "seed", "channels")


@lru_cache(maxsize=256)
def _sample(kind: str, seed: int, index: int, h: int, w: int, channels: int) -> tuple[np.ndarray, ...]:
    """``(image uint8 HxWxC, mask uint8 {0, 1}, instance labels int32 1..N)``, read-only."""
    rng = np.random.default_rng([seed, index])
    image, labels = GENERATORS[kind][0](rng, h, w)
    image = _finish(rng, image, blur=rng.uniform(0.6, 1.2), noise=rng.uniform(0.02, 0.05))
    arrays = (np.repeat(image[..., None], channels, axis=2), (labels != 0).astype(np.uint8), relabel(labels)[0])
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _parse(spec: str) -> tuple[str, dict[str, str]]:
    body = spec.removeprefix("synthetic:")
    kind, _, query = body.partition("?")
    if kind not in GENERATORS:
        raise fail(spec, f"unknown synthetic dataset {kind!r}", f"choose one of {', '.join(GENERATORS)}")
    return kind, parse_options(spec, query, _KEYS)


def parse_options(spec: str, query: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The ``key=value&...`` options of a synthetic spec (the part after ``?``); unknown keys are refused."""
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise fail(spec, f"cannot parse {query!r}", "write key=value pairs joined by '&'") from None
    unknown = sorted(set(options) - set(keys))
    if unknown:
        raise fail(spec, f"unknown option(s) {', '.join(unknown)}", f"use {', '.join(keys)}")
    return options


def spec_int(spec: str, key: str, value: str, low: int, high: int) -> int:
    """The integer option ``key`` of a synthetic spec, in ``low..high``."""
    if not value.isdigit() or not low <= int(value) <= high:
        raise fail(spec, f"{key}={value!r} is invalid", f"use an integer in {low}..{high}")
    return int(value)


class SyntheticSource(Source):
    """A generated dataset (see the module docstring)."""

    format = "synthetic"

    def __init__(self, spec: str, *, positive: int | None = None, invert_mask: bool = False) -> None:
        kind, options = _parse(spec)
        _, self._names, default_channels = GENERATORS[kind]
        n = spec_int(spec, "n", options.get("n", "64"), 1, 1_000_000)
        size = options.get("size", "128")
        parts = size.lower().split("x")
        if len(parts) not in (1, 2):
            raise fail(spec, f"size={size!r} is invalid", "write size=128 or size=96x128 (HxW)")
        h, w = (spec_int(spec, "size", p, 16, 4096) for p in (parts * 2)[:2])
        seed = spec_int(spec, "seed", options.get("seed", "0"), 0, 2**32 - 1)
        channels = spec_int(spec, "channels", options.get("channels", str(default_channels)), 1, 3)
        if channels == 2:
            raise fail(spec, "channels=2 is invalid", "use 1 (gray) or 3 (RGB)")
        size_text = str(h) if h == w else f"{h}x{w}"
        canonical = f"synthetic:{kind}?n={n}&size={size_text}&seed={seed}&channels={channels}"
        super().__init__(canonical, canonical, positive=positive, invert_mask=invert_mask)
        self.kind, self.height, self.width, self.seed, self.channels = kind, h, w, seed, channels
        self.ids = [f"{kind}_{i:0{max(4, len(str(n - 1)))}d}" for i in range(n)]

    @property
    def in_channels(self) -> int:
        return self.channels

    def declared_labels(self) -> Declared:
        return (0, 1), self._names, False

    def read_image(self, i: int) -> np.ndarray:
        return _sample(self.kind, self.seed, i, self.height, self.width, self.channels)[0]

    def read_mask(self, i: int) -> np.ndarray:
        return _sample(self.kind, self.seed, i, self.height, self.width, self.channels)[1]

    @property
    def has_instances(self) -> bool:
        return True

    def read_instances(self, i: int) -> np.ndarray:
        return _sample(self.kind, self.seed, i, self.height, self.width, self.channels)[2]

    def headers(self, i: int) -> tuple[ImageInfo, ImageInfo]:
        return (
            ImageInfo("synthetic", self.height, self.width, self.channels, "uint8"),
            ImageInfo("synthetic", self.height, self.width, 1, "uint8"),
        )
