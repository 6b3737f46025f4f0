"""Mask values -> class ids.

A :class:`LabelMap` says which stored mask value (a gray level, or a colour packed as ``0xRRGGBB``) is which class
id. It is declared (``labels.json`` in a folder dataset, ``labels`` in an nnU-Net ``dataset.json``), chosen on the
command line (``--positive V``: V is foreground, every other value background; ``--invert-mask`` swaps a binary
pair), or inferred from the union of values over all masks by :func:`infer_label_map`:

* gray values all below 32 -> class ids as stored (``{0, 1}`` is binary, ``{0, 1, 2}`` three classes);
* masks stored lossily (JPEG, as Kvasir-SEG ships its polyp masks): compression leaves every level between 0 and
  the foreground at edges, so they are binary with the values from half the foreground up as foreground
  (``>= 128`` for 0/255 masks), with one warning; an RGB JPEG of a gray mask is read as its channels' mean;
* instance labels (GlaS stores its glands so, ``train_1_anno.bmp``: one id per gland, ``1..N`` per image): each
  id one 8-connected piece (:data:`INSTANCE_PIECES`), the ids ``1..N`` without a gap in nearly every mask
  (:data:`INSTANCE_NUMBERED`) or more ids over all masks than classes can be (:data:`MAX_AUTO_IDS`: ids kept from
  a tracking or an annotation tool, with gaps), ``N`` differing between masks and reaching
  :data:`MIN_INSTANCE_IDS` in some: binary for semantic tasks, every id foreground, and the objects themselves for
  instance tasks, where no ``instances/`` folder gives them (StarDist and Cellpose train from ``images/`` +
  ``masks/`` stored so), with one warning naming the fix if the ids are classes (``labels.json``);
* otherwise binary: 0 is background and the most frequent non-zero value (255 for 8-bit, 65535 for 16-bit
  masks) is foreground; a mask holding any third value has stray values and is an error;
* colour masks (R, G, B not all equal somewhere) -> a palette: black is background, the other colours follow
  in ascending ``0xRRGGBB`` order (at most 32 colours).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from unetzoo.data.problems import Severity, fail

MAX_AUTO_IDS = 32
BINARY_NAMES = ("background", "foreground")
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_STRAY = np.int64(-(1 << 40))  # key of pixels that can never be a class (non-gray colour in a gray map, fractions)
LOSSY_CHANNEL_SPREAD = 64
"""Largest difference between the channels of a lossy RGB mask that is still a gray mask (JPEG's chroma noise of a
gray image stays far below it; a colour palette's classes differ by about 255)."""
LOSSY_MIDDLE_SHARE = 0.25
"""Largest share of a lossy mask's non-zero pixels in the middle half of the range (between a quarter and three
quarters of the foreground value) for it to be a binary mask with compression edges rather than a third class."""
MIN_INSTANCE_IDS = 3
"""Fewest ids that some mask must hold for one-piece ids ``1..N`` to be read as instance labels: with two, an organ
and one lesion in it (masks ``{1}`` and ``{1, 2}``, each class one piece) look like one or two objects."""
INSTANCE_NUMBERED = 0.9
"""Least share of instance label masks numbered ``1..N`` without a gap: an object deleted by hand, or hidden by
another, leaves a gap in a few; classes present in some images only (``{2, 3}`` beside ``{1, 2, 3}``) leave gaps
in many."""
INSTANCE_PIECES = 1.1
"""Most 8-connected pieces per id, over all masks, of instance labels: an object is cut in two now and then (DSB 2018
has nuclei in pieces), while classes seldom keep to one piece each."""


@dataclass(frozen=True)
class MaskStats:
    """Value histogram of one mask: ``counts`` maps raw value (packed colour if ``colour``) to pixel count."""

    height: int
    width: int
    dtype: str
    colour: bool
    counts: dict[int, int]
    lossy: bool = False
    pieces: int | None = None
    """8-connected pieces of equal value, counted when the mask holds two or more positive gray values (the test
    for instance labels), else None."""

    def items(self, colour: bool) -> list[tuple[int, int]]:
        """``(raw value, pixel count)`` pairs, values as packed colours when the dataset is colour-coded."""
        scale = 0x010101 if colour and not self.colour else 1
        return [(v * scale, c) for v, c in self.counts.items()]

    def keys(self, colour: bool) -> set[int]:
        return {v for v, _ in self.items(colour)}


def pack_rgb(raw: np.ndarray) -> np.ndarray:
    """``HxWx3`` -> ``HxW`` int64 ``0xRRGGBB``."""
    rgb = raw[..., :3].astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _is_colour(raw: np.ndarray) -> bool:
    return raw.ndim == 3 and not ((raw[..., 0] == raw[..., 1]).all() and (raw[..., 1] == raw[..., 2]).all())


def _keys(raw: np.ndarray, colour: bool) -> np.ndarray:
    """Integer lookup keys of every pixel (``_STRAY`` where no class can match)."""
    if colour:
        return pack_rgb(raw) if raw.ndim == 3 else raw.astype(np.int64) * 0x010101
    if raw.ndim == 3:
        keys = raw[..., 0].astype(np.int64)
        keys[(raw[..., 0] != raw[..., 1]) | (raw[..., 1] != raw[..., 2])] = _STRAY
        return keys
    if raw.dtype.kind == "f":
        keys = np.where(np.isfinite(raw), raw, 0.5).astype(np.int64)
        keys[keys != raw] = _STRAY
        return keys
    return raw


def lossy_gray(raw: np.ndarray) -> np.ndarray | None:
    """A lossily stored mask as gray levels: itself if gray, the channels' mean if they nearly agree, else None."""
    if raw.ndim == 2:
        return raw
    rgb = raw[..., :3].astype(np.int32)
    if (rgb.max(axis=-1) - rgb.min(axis=-1)).max(initial=0) > LOSSY_CHANNEL_SPREAD:
        return None
    return np.rint(rgb.mean(axis=-1)).astype(raw.dtype)


def scan_mask(raw: np.ndarray, lossy: bool = False) -> MaskStats:
    """Histogram of a decoded mask (``HxW`` or ``HxWx3``); ``lossy``: stored as JPEG (see the module docstring)."""
    gray = lossy_gray(raw) if lossy else None
    raw = raw if gray is None else gray
    colour = _is_colour(raw)
    keys = _keys(raw if colour or raw.ndim == 2 else raw[..., 0], colour)
    if keys.dtype in (np.uint8, np.bool_):
        hist = np.bincount(keys.ravel().astype(np.uint8), minlength=2)
        counts = {int(v): int(c) for v, c in enumerate(hist) if c}
    else:
        values, hist = np.unique(keys, return_counts=True)
        counts = dict(zip(values.tolist(), hist.tolist(), strict=True))
    ids = len(counts) - (0 in counts)
    pieces = None
    if not colour and not lossy and ids >= 2 and min(counts) >= 0:
        from skimage.measure import label  # here: a binary or colour dataset never pays for the import

        pieces = int(label(keys, background=0, connectivity=2).max())
    return MaskStats(raw.shape[0], raw.shape[1], str(raw.dtype), colour, counts, lossy, pieces)


def format_value(value: int, colour: bool) -> str:
    if value == _STRAY:
        return "non-integer"
    return f"#{value:06x}" if colour else str(value)


def format_values(values: Sequence[int] | set[int], colour: bool, limit: int = 8) -> str:
    ordered = sorted(values)
    shown = ", ".join(format_value(v, colour) for v in ordered[:limit])
    return "{" + shown + (f", ... ({len(ordered)} values)" if len(ordered) > limit else "") + "}"


@dataclass(frozen=True)
class LabelMap:
    """Raw mask value -> class id; class id ``k`` is ``values[k]`` (or ``== positive`` for the binary mode, or
    ``>= threshold`` for lossily stored binary masks and for instance labels). ``instance_ids``: the masks hold
    one id per object (the module docstring), so they are also the samples' instance labels."""

    values: tuple[int, ...]
    names: tuple[str, ...]
    colour: bool = False
    positive: int | None = None
    invert: bool = False
    threshold: int | None = None
    instance_ids: bool = False
    _lut: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def classes(self) -> int:
        return len(self.names)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Class ids (int64 ``HxW``); -1 marks pixels whose value is no class."""
        if self.threshold is not None:
            gray = lossy_gray(raw)
            ids = np.full(raw.shape[:2], -1, np.int64) if gray is None else (gray >= self.threshold).astype(np.int64)
            return np.where(ids >= 0, 1 - ids, ids) if self.invert else ids
        keys = _keys(raw, self.colour)
        if self.positive is not None:
            ids = np.where(keys == _STRAY, -1, keys == self.positive).astype(np.int64)
        elif keys.dtype in (np.uint8, np.uint16, np.bool_):
            ids = self._table(keys.dtype)[keys]
        else:
            order = np.argsort(self.values)
            table = np.asarray(self.values, dtype=np.int64)[order]
            pos = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
            ids = np.where(table[pos] == keys, order[pos], -1).astype(np.int64)
        return np.where(ids >= 0, 1 - ids, ids) if self.invert else ids

    def _table(self, dtype: np.dtype[Any]) -> np.ndarray:
        name = np.dtype(dtype).name
        if name not in self._lut:
            size = 2 if name == "bool" else np.iinfo(dtype).max + 1
            lut = np.full(size, -1, dtype=np.int64)
            for class_id, value in enumerate(self.values):
                if 0 <= value < size:
                    lut[value] = class_id
            self._lut[name] = lut
        return self._lut[name]

    def class_of(self, value: int) -> int:
        """Class id of one raw key (-1 if none), as :meth:`apply` would give."""
        if self.threshold is not None:
            ids = int(value >= self.threshold) if value != _STRAY else -1
        elif self.positive is not None:
            ids = int(value == self.positive) if value != _STRAY else -1
        else:
            ids = self.values.index(value) if value in self.values else -1
        return 1 - ids if self.invert and ids >= 0 else ids

    def describe(self) -> str:
        if self.threshold is not None:
            names = self.names[::-1] if self.invert else self.names
            return f"values >= {self.threshold} -> {names[1]}, lower values -> {names[0]}"
        if self.positive is not None:
            pairs = [f"{self.positive} -> {self.names[1]}", f"other values -> {self.names[0]}"]
            if self.invert:
                pairs = [f"{self.positive} -> {self.names[0]}", f"other values -> {self.names[1]}"]
        else:
            pairs = [f"{format_value(v, self.colour)} -> {self.names[self.class_of(v)]}" for v in self.values]
        return ", ".join(pairs)


def parse_declared(labels: Mapping[str, Any], where: str) -> tuple[tuple[int, ...], tuple[str, ...], bool]:
    """``{"background": 0, "nucleus": 255}`` or colours (``[r, g, b]`` / ``"#rrggbb"``) -> values, names, colour.

    Class ids follow the order of the entries; the first is the background (id 0).
    """
    values: list[int] = []
    colour = any(not isinstance(v, int) for v in labels.values())
    for name, value in labels.items():
        if isinstance(value, bool) or not isinstance(value, (int, str, list)):
            raise fail(where, f"label {name!r} has value {value!r}", 'use an int, [r, g, b] or "#rrggbb"')
        if isinstance(value, str):
            if not _HEX_COLOUR.fullmatch(value):
                raise fail(where, f"label {name!r} has colour {value!r}", 'write colours as "#rrggbb"')
            values.append(int(value[1:], 16))
        elif isinstance(value, list):
            if len(value) != 3 or not all(isinstance(c, int) and 0 <= c < 256 for c in value):
                raise fail(where, f"label {name!r} has colour {value!r}", "write colours as [r, g, b] in 0..255")
            values.append((value[0] << 16) | (value[1] << 8) | value[2])
        else:
            values.append(value * 0x010101 if colour else value)
    if len(values) < 2 or len(set(values)) != len(values):
        raise fail(where, f"labels {dict(labels)} need at least two classes with distinct values", "fix the file")
    return tuple(values), tuple(labels), colour


class Finding(NamedTuple):
    """A problem of sample ``index`` (``None``: the whole dataset); the source names the file."""

    index: int | None
    severity: Severity
    what: str
    fix: str


@dataclass
class Inference:
    """The label map (``None`` when impossible) and the problems found."""

    label_map: LabelMap | None
    findings: list[Finding]


def infer_label_map(
    stats: Mapping[int, MaskStats],
    *,
    positive: int | None = None,
    invert: bool = False,
    declared: tuple[tuple[int, ...], tuple[str, ...], bool] | None = None,
    declared_in: str = "labels.json",
) -> Inference:
    """Decide the label map of a dataset from its masks' histograms (see the module docstring).

    ``stats`` may miss unreadable masks.
    """
    colour = any(s.colour for s in stats.values()) or bool(declared and declared[2])
    union: set[int] = set().union(*(s.keys(colour) for s in stats.values())) if stats else set()
    findings: list[Finding] = []
    if positive is not None:
        if colour:
            what = "--positive takes a gray value but the masks are colour"
            return Inference(None, [Finding(None, "error", what, "declare the classes in labels.json")])
        label_map = LabelMap((), BINARY_NAMES, positive=positive, invert=invert)
        if stats and positive not in union:
            fix = f"pick one of {format_values(union, False)} or drop --positive"
            return Inference(None, [Finding(None, "error", f"no mask contains the value {positive}", fix)])
        for i, s in stats.items():
            if len(s.counts) > 2:
                what = f"non-binary values {format_values(set(s.counts), False)} where binary was asked"
                fix = f"only {positive} is foreground, every other value background"
                findings.append(Finding(i, "warning", what, fix))
        return Inference(label_map, findings)
    if declared is not None:
        values, names, colour = declared
        label_map = LabelMap(values, names, colour=colour)
        for i, s in stats.items():
            extra = s.keys(colour) - set(values)
            if extra:
                fix = f"declare them in {declared_in} or fix the mask"
                what = f"values {format_values(extra, colour)} are not declared in {declared_in}"
                findings.append(Finding(i, "error", what, fix))
    elif not colour and (lossy_top := _lossy_foreground(stats, union)) is not None:
        label_map, findings = _thresholded(stats, lossy_top)
    elif colour:
        if len(union) > MAX_AUTO_IDS:
            what = f"masks hold {len(union)} colours, too many for a palette (lossy JPEG masks? images in masks/?)"
            fix = "store masks as class ids or declare the palette in labels.json"
            return Inference(None, [Finding(None, "error", what, fix)])
        values = tuple(sorted(union | {0}))
        names = tuple("background" if v == 0 else f"#{v:06x}" for v in values)
        label_map = LabelMap(values, names, colour=True)
    elif (most := _instance_ids(stats)) is not None:
        label_map, findings = _instance_labels(stats, most)
    elif union and (min(union) < 0 or max(union) >= MAX_AUTO_IDS):
        label_map, findings = _binary(stats, union)
    else:
        top = max(union | {1})
        values = tuple(range(top + 1))
        names = BINARY_NAMES if top == 1 else ("background", *(f"class{k}" for k in range(1, top + 1)))
        label_map = LabelMap(values, names)
        missing = sorted(set(values) - union - {0})
        if missing and stats:  # no mask read at all (none paired): nothing to say about their ids
            what = f"class ids {format_values(missing, False)} never occur in the masks"
            fix = "class ids must be consecutive: renumber the masks or declare labels.json"
            findings.append(Finding(None, "warning", what, fix))
    if invert:
        if label_map.classes != 2:
            what = f"--invert-mask needs binary masks, found {label_map.classes} classes"
            return Inference(None, [Finding(None, "error", what, "drop --invert-mask")])
        label_map = dataclasses.replace(label_map, invert=True, instance_ids=False)
    return Inference(label_map, findings)


def _binary(stats: Mapping[int, MaskStats], union: set[int]) -> tuple[LabelMap, list[Finding]]:
    totals: dict[int, int] = {}
    for s in stats.values():
        for v, c in s.counts.items():
            totals[v] = totals.get(v, 0) + c
    fg = max((v for v in union if v != 0), key=lambda v: (totals[v], v))
    label_map = LabelMap((0, fg), BINARY_NAMES)
    findings: list[Finding] = []
    for i, s in stats.items():
        extra = set(s.counts) - {0, fg}
        if extra:
            what = f"stray values {format_values(extra, False)} in a binary mask of {{0, {fg}}}"
            fix = (
                f"clean the mask (threshold it), or pass --positive {fg} to make every other value background, "
                "or declare all classes in labels.json"
            )
            findings.append(Finding(i, "error", what, fix))
    return label_map, findings


def _lossy_foreground(stats: Mapping[int, MaskStats], union: set[int]) -> int | None:
    """The foreground value of lossily stored masks whose levels are a binary mask's compression edges (the exactly
    stored masks, if any, binary; the lossy ones mostly at the extremes: :data:`LOSSY_MIDDLE_SHARE`), else None."""
    lossy = [s for s in stats.values() if s.lossy]
    if not lossy or not union or min(union) < 0 or max(union) < MAX_AUTO_IDS:
        return None
    exact = {v for s in stats.values() if not s.lossy for v in s.counts} - {0}
    top = max(exact, default=max(union))
    if len(exact) > 1 or top < MAX_AUTO_IDS:
        return None
    middle = sum(c for s in lossy for v, c in s.counts.items() if top / 4 <= v <= 3 * top / 4)
    return top if middle <= LOSSY_MIDDLE_SHARE * sum(c for s in lossy for v, c in s.counts.items() if v) else None


def _thresholded(stats: Mapping[int, MaskStats], top: int) -> tuple[LabelMap, list[Finding]]:
    threshold = (top + 1) // 2
    count = sum(s.lossy for s in stats.values())
    what = (
        f"{count} masks stored as JPEG, whose compression leaves levels between 0 and {top} at edges: "
        f"read as binary masks, values >= {threshold} foreground"
    )
    fix = "store masks as PNG or TIFF to keep their exact values"
    return LabelMap((0, top), BINARY_NAMES, threshold=threshold), [Finding(None, "warning", what, fix)]


def _instance_ids(stats: Mapping[int, MaskStats]) -> int | None:
    """The most ids in one mask when the masks are instance labels (see the module docstring), else None."""
    ids = [len(s.counts) - (0 in s.counts) for s in stats.values()]
    if not ids or max(ids) < MIN_INSTANCE_IDS or len(set(ids)) < 2:
        return None
    pieces = numbered = 0
    for s, n in zip(stats.values(), ids, strict=True):
        if n >= 2 and s.pieces is None:  # colour, lossy or negative values
            return None
        pieces += s.pieces or n
        numbered += n > 0 and max(s.counts) == n
    union = set().union(*(s.counts for s in stats.values())) - {0}
    enough = numbered >= INSTANCE_NUMBERED * sum(n > 0 for n in ids) or len(union) > MAX_AUTO_IDS
    return max(ids) if enough and pieces <= INSTANCE_PIECES * sum(ids) else None


def _instance_labels(stats: Mapping[int, MaskStats], most: int) -> tuple[LabelMap, list[Finding]]:
    count = sum(len(s.counts) > 1 for s in stats.values())
    what = (
        f"{count} masks hold instance labels (one id per object, each id one piece, up to {most} in one mask): "
        "read as binary (every object foreground), and as the objects for --task instances"
    )
    fix = "if the ids are classes, declare them in labels.json"
    return LabelMap((0, 1), BINARY_NAMES, threshold=1, instance_ids=True), [Finding(None, "warning", what, fix)]
