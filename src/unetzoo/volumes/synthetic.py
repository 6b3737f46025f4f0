"""Generated multi-modal brain MRI with a nested tumour: exact labels, deterministic, any size, for tests.

Spec: ``synthetic:brain?n=&size=&modalities=&seed=`` -- ``n`` cases (default 8), ``size`` ``S`` (a cube) or
``ZxYxX`` (default 64; BraTS is ``155x240x240``), ``modalities`` 1-4 (default 4), ``seed`` (default 0). Case
``i`` depends only on ``(seed, i)``.

Each case is a skull-stripped brain (an ellipsoid with a smooth wobble, zero outside as in BraTS) of white
matter, a grey-matter rim and two ventricles, with one tumour. Labels follow the Medical Segmentation Decathlon
Task01_BrainTumour and nnU-Net's BraTS conversion: 0 background, 1 oedema, 2 non-enhancing tumour core
(necrosis included), 3 enhancing tumour. They nest: the enhancing tumour is a rim around the necrotic core,
the core lies inside the oedema, so the BraTS regions whole tumour {1, 2, 3} contains tumour core {2, 3}
contains enhancing tumour {3} (:data:`REGIONS`). Channels, in Task01's order: FLAIR (oedema bright, CSF
dark), T1w (white > grey matter, tumour dark), T1gd (T1w with the enhancing rim bright), T2w (CSF and oedema
bright). Intensities are int16 like scanner output (tissue contrast x smooth bias field, blur, noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from unetzoo.data.problems import fail
from unetzoo.data.synthetic import parse_options, spec_int
from unetzoo.volumes.geometry import Geometry
from unetzoo.volumes.io import Case

CHANNEL_NAMES = ("FLAIR", "T1w", "T1gd", "T2w")
LABELS = {"background": 0, "edema": 1, "non_enhancing_tumor": 2, "enhancing_tumor": 3}
REGIONS = {"background": 0, "whole_tumor": [1, 2, 3], "tumor_core": [2, 3], "enhancing_tumor": [3]}
"""nnU-Net region-based ``labels`` for the same masks (with ``regions_class_order`` [1, 2, 3])."""

# Tissues: background, CSF, grey matter, white matter, oedema, necrotic/non-enhancing core, enhancing rim.
_CONTRAST = np.array(
    [
        [0.0, 0.15, 0.55, 0.45, 0.90, 0.60, 0.70],  # FLAIR
        [0.0, 0.20, 0.45, 0.65, 0.40, 0.25, 0.40],  # T1w
        [0.0, 0.20, 0.45, 0.65, 0.40, 0.25, 0.95],  # T1gd
        [0.0, 0.95, 0.55, 0.40, 0.80, 0.70, 0.60],  # T2w
    ],
    dtype=np.float32,
)
_TISSUE_LABEL = np.array([0, 0, 0, 0, 1, 2, 3], dtype=np.uint8)
_KEYS = ("n", "size", "modalities", "seed")


@dataclass(frozen=True)
class BrainSpec:
    """A parsed ``synthetic:brain`` spec."""

    n: int = 8
    size: tuple[int, int, int] = (64, 64, 64)
    modalities: int = 4
    seed: int = 0

    @property
    def spec(self) -> str:
        """The canonical spec text."""
        z, y, x = self.size
        return f"synthetic:brain?n={self.n}&size={z}x{y}x{x}&modalities={self.modalities}&seed={self.seed}"

    @property
    def channel_names(self) -> tuple[str, ...]:
        return CHANNEL_NAMES[: self.modalities]


def parse_brain_spec(spec: str) -> BrainSpec:
    """Parse ``synthetic:brain?...`` (see the module docstring); a one-line error for a bad spec."""
    kind, _, query = spec.removeprefix("synthetic:").partition("?")
    if kind != "brain" or not spec.startswith("synthetic:"):
        raise fail(spec, "is not a synthetic:brain spec", "write synthetic:brain?n=8&size=64&modalities=4")
    options = parse_options(spec, query, _KEYS)
    parts = options.get("size", "64").lower().split("x")
    if len(parts) not in (1, 3):
        raise fail(spec, f"size={options['size']!r} is invalid", "write size=64 or size=155x240x240 (ZxYxX)")
    z, y, x = (spec_int(spec, "size", p, 16, 1024) for p in (parts * 3)[:3])
    return BrainSpec(
        n=spec_int(spec, "n", options.get("n", "8"), 1, 100_000),
        size=(z, y, x),
        modalities=spec_int(spec, "modalities", options.get("modalities", "4"), 1, 4),
        seed=spec_int(spec, "seed", options.get("seed", "0"), 0, 2**32 - 1),
    )


def _field(rng: np.random.Generator, shape: tuple[int, int, int], cells: int = 4) -> np.ndarray:
    """A smooth random field in [-1, 1]: a coarse uniform grid, linearly interpolated to ``shape``."""
    coarse = rng.uniform(-1.0, 1.0, size=(cells, cells, cells)).astype(np.float32)
    return ndimage.zoom(coarse, [s / cells for s in shape], order=1, mode="nearest", grid_mode=True)


def _tissues(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """Tissue ids (see ``_CONTRAST``) of one brain with its tumour, uint8 ``(z, y, x)``."""
    axes = np.ogrid[tuple(slice(0, s) for s in shape)]
    u = [((a - (s - 1) / 2) / (0.42 * s)).astype(np.float32) for a, s in zip(axes, shape, strict=True)]
    radius = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2) * (1.0 + 0.06 * _field(rng, shape))
    tissue = np.zeros(shape, np.uint8)
    tissue[radius < 1.0] = 2  # grey matter
    tissue[radius < 0.8 + 0.05 * _field(rng, shape)] = 3  # white matter
    for side in (-1.0, 1.0):
        ventricle = (u[0] / 0.12) ** 2 + (u[1] / 0.3) ** 2 + ((u[2] - side * 0.14) / 0.08) ** 2
        tissue[ventricle < 1.0] = 1
    direction = rng.normal(size=3)
    centre = direction / np.linalg.norm(direction) * rng.uniform(0.1, 0.35)
    oedema = rng.uniform(0.3, 0.45)
    core = oedema * rng.uniform(0.45, 0.6)
    rim = core * rng.uniform(0.3, 0.45)
    wobble = 1.0 + 0.12 * _field(rng, shape, cells=5)
    d = np.sqrt(sum((ui - c) ** 2 for ui, c in zip(u, centre, strict=True))) * wobble
    tissue[d < oedema] = 4
    tissue[d < core] = 6
    tissue[d < core - rim] = 5
    return tissue


def brain_case(spec: BrainSpec | str, i: int) -> Case:
    """Case ``i`` of ``spec``: image int16 ``(modalities, z, y, x)``, label uint8 ``(z, y, x)``, 1 mm grid.

    The geometry is 1 mm isotropic, identity direction, centred on the origin.
    """
    spec = parse_brain_spec(spec) if isinstance(spec, str) else spec
    if not 0 <= i < spec.n:
        raise IndexError(f"case {i} of {spec.spec} (n={spec.n})")
    rng = np.random.default_rng([spec.seed, i])
    tissue = _tissues(rng, spec.size)
    brain = tissue > 0
    bias = 1.0 + 0.1 * _field(rng, spec.size, cells=3)
    channels = []
    for contrast in _CONTRAST[: spec.modalities]:
        image = ndimage.gaussian_filter(contrast[tissue], 0.7) * bias
        image += rng.normal(0.0, 0.03, spec.size).astype(np.float32)
        channels.append(np.where(brain, np.clip(image * 1000.0, 0, 32767), 0).astype(np.int16))
    z, y, x = spec.size
    geometry = Geometry((1.0, 1.0, 1.0), (-(x - 1) / 2, -(y - 1) / 2, -(z - 1) / 2))
    return Case(f"brain_{i:04d}", np.stack(channels), _TISSUE_LABEL[tissue], geometry)
