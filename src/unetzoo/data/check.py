"""``unetzoo data check``: what a dataset holds and every problem in it, one line each, before training starts.

What is read: every image and mask header (size, channels, dtype, the pixel limit, extension vs content), the
integrity of every PNG image (chunk CRCs up to IEND, which catches truncated files without decoding pixels), and
every mask decoded in full (classes, stray values, empty masks, foreground fraction), and every instance label
image decoded in full (integer ids, size, objects per image, objects touching another, agreement with the mask's
foreground). Image pixels are decoded only with ``decode_images=True`` (``--decode-images``): that also catches
corrupt JPEG/TIFF image data, at about twice the cost. On DSB 2018 (519 pairs) the default check takes about 2 s
on one core, 3 s with its instance labels.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.formats import open_unchecked
from unetzoo.data.instances import InstanceStats, instance_stats
from unetzoo.data.io import ImageInfo
from unetzoo.data.labels import LabelMap, MaskStats
from unetzoo.data.problems import DataError, Problem
from unetzoo.data.source import Source, effective_channels

_KIND = {1: "gray", 3: "RGB"}


@dataclass
class CheckReport:
    """The result of :func:`check_source`.

    Attributes:
        ok: no errors (warnings allowed).
        problems: one line per problem, ``"error: <file>: <what>; <fix>"`` or ``"warning: ..."``.
        summary: counts, sizes, channels, dtypes, classes and foreground fraction (JSON-serializable).
    """

    data: str
    findings: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.findings if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.findings if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def problems(self) -> list[str]:
        return [p.line for p in self.findings]

    def raise_for_errors(self) -> None:
        """Raise the first error as :class:`UnetzooError` (what training does with bad data)."""
        if self.errors:
            first, more = self.errors[0], len(self.errors) - 1
            hint = f" ({more} more: run `unetzoo data check {shlex.quote(self.data)}`)" if more else ""
            raise DataError(Problem("error", first.file, first.what, first.fix + hint))

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "summary": self.summary,
            "hints": self.hints,
            "problems": [p.to_dict() for p in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def format_text(self) -> str:
        """Summary lines, hints, a result line, then one line per problem."""
        s = self.summary
        lines = [f"data: {self.data}"]
        if "samples" in s:
            lines.append(f"format: {s['format']}, {s['samples']} samples")
        if s.get("sizes"):
            lines.append("sizes (HxW): " + _counts(s["sizes"]))
        if s.get("image_channels"):
            lines.append(
                f"images: channels {s['in_channels']} ({_counts(s['image_channels'])}); "
                f"dtypes {_counts(s['image_dtypes'])}"
            )
        if s.get("classes"):
            lines.append(f"masks: dtypes {_counts(s['mask_dtypes'])}; {s['classes']} classes: {s['label_map']}")
            fractions = ", ".join(f"{k} {v:.4f}" for k, v in s["class_fractions"].items())
            lines.append(f"pixel fraction per class: {fractions}")
            fg = s["foreground_fraction"]
            lines.append(
                f"foreground fraction per mask: mean {fg['mean']:.4f}, median {fg['median']:.4f}, "
                f"min {fg['min']:.4f}, max {fg['max']:.4f}; empty masks: {s['empty_masks']}"
            )
        if s.get("instances"):
            n, per = s["instances"], s["instances"]["objects_per_image"]
            lines.append(
                f"instances: {n['objects']} objects in {n['samples']} label images (per image: mean {per['mean']:.1f}, "
                f"median {per['median']:g}, min {per['min']}, max {per['max']}); {n['touching']} touch another "
                f"object ({n['touching_fraction']:.1%}): connected components of the mask would merge them"
            )
        if s.get("checked"):
            lines.append(f"checked: {s['checked']}")
        lines += [f"hint: {h}" for h in self.hints]
        verdict = "ok" if self.ok else "FAILED"
        lines.append(f"result: {verdict} ({len(self.errors)} errors, {len(self.warnings)} warnings)")
        lines += self.problems
        return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counter.items())


def _top(counter: Counter[str], n: int = 8) -> dict[str, int]:
    top = dict(counter.most_common(n))
    rest = sum(counter.values()) - sum(top.values())
    return {**top, "other": rest} if rest else top


def _channel_kind(info: ImageInfo) -> str:
    if info.format == "volume":
        return f"{info.channels} modalities"
    if info.palette:
        return "palette"
    if info.alpha and info.channels == 4:  # without alpha, four channels are four stains (an ImageJ hyperstack)
        return "RGBA"
    return _KIND.get(info.channels, f"{info.channels}-channel")


def _sample(
    src: Source, i: int, decode_images: bool, stats: dict[int, MaskStats], infos: list[tuple[ImageInfo, ImageInfo]]
) -> list[Problem]:
    """Headers, integrity and mask histogram of sample ``i``; fills ``stats`` and ``infos``."""
    try:
        image, mask = src.headers(i)
    except DataError as exc:
        return [exc.problem]
    infos.append((image, mask))
    found = []
    if (mask.height, mask.width) != (image.height, image.width):
        what = f"mask is {mask.height}x{mask.width} (HxW) but its image is {image.height}x{image.width}"
        found.append(Problem("error", src.mask_where(i), what, "resize or re-export the mask to the image size"))
    try:
        if decode_images:
            src.read_image(i)
        else:
            src.verify(i)
    except DataError as exc:
        found.append(exc.problem)
    try:
        stats[i] = src.mask_stats(i)
    except DataError as exc:
        found.append(exc.problem)
    return found


def _instances(src: Source, i: int, objects: dict[int, InstanceStats]) -> list[Problem]:
    """Decode sample ``i``'s instance labels, if any, into ``objects``."""
    try:
        labels = src.read_instances(i)
    except DataError as exc:
        return [exc.problem]
    if labels is not None:
        objects[i] = instance_stats(labels)
    return []


def _instance_summary(
    src: Source, objects: dict[int, InstanceStats], foreground: dict[int, int]
) -> tuple[dict[str, Any], list[Problem]]:
    """Objects per image and touching objects; a mask whose foreground differs from its objects is a warning."""
    per = np.asarray([s.objects for s in objects.values()])
    total, touching = int(per.sum()), sum(s.touching for s in objects.values())
    summary = {
        "samples": len(objects),
        "objects": total,
        "objects_per_image": {
            "mean": float(per.mean()),
            "median": float(np.median(per)),
            "min": int(per.min()),
            "max": int(per.max()),
        },
        "empty": int((per == 0).sum()),
        "touching": touching,
        "touching_fraction": touching / max(total, 1),
    }
    problems = []
    for i, s in objects.items():
        if i in foreground and foreground[i] != s.pixels:
            what = f"instance labels cover {s.pixels} pixels but the mask's foreground {foreground[i]}"
            fix = "re-export one of them so that the objects cover exactly the mask's foreground"
            problems.append(Problem("warning", src.instance_path(i) or src.where(i), what, fix))
    return summary, problems


def _checked(src: Source, decode_images: bool, instances: bool, pngs: bool) -> str:
    """What the check read, in words (``pngs``: some images are PNGs, whose integrity is checked undecoded)."""
    if src.format == "volumes":
        images = "every case's channels read" if decode_images else "channels not read (--decode-images reads them)"
        return f"every case's label read (shape, classes per slice), {images}"
    undecoded = "PNG image integrity (CRC), image pixels not decoded" if pngs else "image pixels not decoded"
    images = "all images decoded" if decode_images else undecoded
    return f"all headers, {images}, all masks decoded" + (", all instance labels decoded" if instances else "")


def _header_warnings(src: Source, infos: list[tuple[ImageInfo, ImageInfo]]) -> list[Problem]:
    kinds = Counter(_channel_kind(image) for image, _ in infos)
    found = []
    if kinds.get("RGBA") or kinds.get("palette"):
        what = f"{kinds.get('RGBA', 0)} RGBA and {kinds.get('palette', 0)} palette images: alpha is ignored"
        found.append(Problem("warning", src.root, what, "store RGB if the alpha channel carries information"))
    gray = sum(1 for image, _ in infos if effective_channels(image) == 1)
    if gray and src.in_channels == 3:
        what = f"{gray} gray images among colour ones: they are replicated to 3 channels"
        found.append(Problem("warning", src.root, what, "fine if intended; convert them otherwise"))
    return found


def _label_summary(
    src: Source, label_map: LabelMap, stats: dict[int, MaskStats], foreground: dict[int, int]
) -> tuple[dict[str, Any], list]:
    """Class fractions and empty masks; fills ``foreground`` with each mask's foreground pixel count."""
    classes = label_map.classes
    pixels = np.zeros(classes, np.int64)
    fg_fractions, problems, empty = [], [], 0
    for i, s in stats.items():
        per = np.zeros(classes, np.int64)
        for key, count in s.items(label_map.colour):
            class_id = label_map.class_of(key)
            if class_id >= 0:
                per[class_id] += count
        foreground[i] = int(per[1:].sum())
        total = max(int(per.sum()), 1)
        fg_fractions.append(1.0 - per[0] / total)
        pixels += per
        empty += int(per[1:].sum() == 0)
        if per[1:].sum() == 0 and not src.empty_masks_expected:
            what = "mask is empty (no foreground)"
            fix = "fine for negative samples; otherwise check the mask, --positive or --invert-mask"
            problems.append(Problem("warning", src.mask_where(i), what, fix))
    fg = np.asarray(fg_fractions or [0.0])
    summary = {
        "classes": classes,
        "class_names": list(label_map.names),
        "label_map": label_map.describe(),
        "class_fractions": {
            n: float(c) / max(int(pixels.sum()), 1) for n, c in zip(label_map.names, pixels, strict=True)
        },
        "foreground_fraction": {
            "mean": float(fg.mean()),
            "median": float(np.median(fg)),
            "min": float(fg.min()),
            "max": float(fg.max()),
        },
        "empty_masks": empty,
    }
    return summary, problems


def check_source(
    data: str | Path | Source,
    fmt: str | None = None,
    positive: int | None = None,
    invert_mask: bool = False,
    *,
    decode_images: bool = False,
) -> CheckReport:
    """Check a dataset (see the module docstring for what is decoded). Never raises for bad data.

    Passing an opened :class:`Source` reuses its decoded mask histograms and leaves it with its label map set,
    so ``src = open_source(...); check_source(src).raise_for_errors()`` decodes every mask once.
    """
    try:
        src = data if isinstance(data, Source) else open_unchecked(data, fmt, positive, invert_mask)
    except DataError as exc:
        return CheckReport(str(data), [exc.problem])
    report = CheckReport(src.spec, list(src.findings))
    stats: dict[int, MaskStats] = {}
    infos: list[tuple[ImageInfo, ImageInfo]] = []
    objects: dict[int, InstanceStats] = {}
    for i in range(len(src)):
        found = _sample(src, i, decode_images, stats, infos)
        report.findings += found
        if not any(p.file == src.instance_path(i) for p in found):  # masks derived from instances: said once
            report.findings += _instances(src, i, objects)
    try:
        report.findings += _header_warnings(src, infos)
        in_channels = src.in_channels if infos else None
    except DataError as exc:
        report.findings.append(exc.problem)
        in_channels = None
    inference = src.infer_labels(stats)
    report.findings += [src.problem(f) for f in inference.findings]
    report.summary = {
        "name": src.name,
        "format": src.format,
        "samples": len(src),
        "sizes": _top(Counter(f"{image.height}x{image.width}" for image, _ in infos)),
        "in_channels": in_channels,
        "image_channels": dict(Counter(_channel_kind(image) for image, _ in infos)),
        "image_dtypes": dict(Counter(image.dtype for image, _ in infos)),
        "mask_dtypes": dict(Counter(s.dtype for s in stats.values())),
        "checked": _checked(src, decode_images, bool(objects), any(image.format == "PNG" for image, _ in infos)),
    }
    foreground: dict[int, int] = {}
    if inference.label_map is not None and stats:
        label_summary, empty = _label_summary(src, inference.label_map, stats, foreground)
        report.summary.update(label_summary)
        report.findings += empty
        if not report.errors:
            src.use_label_map(inference.label_map)
        fg = label_summary["foreground_fraction"]["mean"]
        if inference.label_map.classes == 2 and fg > 0.5:
            report.hints.append(
                f"the foreground covers {fg:.0%} of the pixels on average; if the structure of interest is the "
                "other class (e.g. ISBI 2012 membranes), pass --invert-mask"
            )
    if objects:
        report.summary["instances"], mismatched = _instance_summary(src, objects, foreground)
        report.findings += mismatched
    unique = dict.fromkeys(report.findings)  # a broken file may be met twice (headers, then channels)
    report.findings = sorted(unique, key=lambda p: p.severity != "error")  # errors first, each in file order
    return report
