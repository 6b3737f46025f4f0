"""Folder pairs: ``images/`` + ``masks/`` (or another of :data:`IMAGE_DIRS` and :data:`MASK_DIRS`, such as
CVC-ClinicDB's ``Original/`` + ``Ground Truth/``) with matching stems, or one flat folder.

An ``instances/`` folder beside ``images/`` holds instance label images (one integer id per object, 0 =
background; :mod:`unetzoo.data.instances`), matched to images like masks. Without ``masks/`` the binary mask is
derived from them (1 where any object is). An image without instance labels in ``instances/`` is a warning (the
dataset then has no instances for instance tasks), never an error for semantic training.

A mask matches an image by stem, optionally with a suffix from :data:`MASK_SUFFIXES` (``cell7.png`` <->
``cell7_mask.png``); extensions may differ (``.jpg`` image, ``.png`` mask). A numbered suffix marks a further part
of the same mask (``case3_mask.png``, ``case3_mask_1.png``, ...: one lesion per file, as the BUSI breast
ultrasound dataset stores them): the parts are merged into one mask, pixel by pixel the largest value (the union
of binary masks). Without ``images/``, one flat folder is read: files whose stem ends in a mask suffix, numbered or
not, are the masks. An optional ``labels.json`` beside the folders
declares the classes (``{"background": 0, "nucleus": 255}``, or colours ``[r, g, b]`` / ``"#rrggbb"``).
Hidden files, ``Thumbs.db`` and ``desktop.ini`` are ignored; any other non-image file is an error.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from unetzoo.data import io
from unetzoo.data.instances import read_instances
from unetzoo.data.labels import parse_declared
from unetzoo.data.problems import DataError, Problem, fail
from unetzoo.data.source import Declared, Source, effective_channels, natural_key, to_channels

IMAGE_DIRS = ("images", "image", "imgs", "img", "original")
"""Names of the image folder, the first found wins; matched ignoring case, spaces, ``_`` and ``-``."""
MASK_DIRS = ("masks", "labels", "groundtruth", "gt")
"""Names of the mask folder, matched as :data:`IMAGE_DIRS` (``Ground Truth/``, ``ground_truth/``). Not ``mask/``:
DRIVE keeps its field-of-view masks there (``21_training_mask.gif``), its vessels in ``1st_manual/``."""
INSTANCES_DIR = "instances"
MASK_SUFFIXES = ("_mask", "_masks", "_label", "_labels", "_segmentation", "_seg", "_gt", "_anno")
"""Stem endings of a mask beside its image (``ISIC_0000000_segmentation.png``: ISIC; ``train_1_anno.bmp``: GlaS;
``_gt``: many challenges)."""
_JUNK = {"thumbs.db", "desktop.ini"}
_MASK_STEM = re.compile("(" + "|".join(MASK_SUFFIXES) + r")(_\d+)?$", re.IGNORECASE)
"""A mask suffix at the end of a stem, with the number of a further part (``_mask_1``) or without."""


def is_mask_stem(stem: str) -> bool:
    """Whether a file of this stem is a mask in a flat folder (``x_mask``, ``x_labels``, ``x_mask_2``)."""
    return _MASK_STEM.search(stem) is not None


def _listing(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name.lower() not in _JUNK),
        key=lambda p: natural_key(p.name),
    )


def find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    """The subfolder of ``root`` named as the earliest of ``names`` (ignoring case, spaces, ``_`` and ``-``)."""
    if not root.is_dir():
        return None
    found: dict[str, Path] = {}
    for p in sorted(root.iterdir()):
        if p.is_dir():
            found.setdefault(re.sub(r"[\s_-]", "", p.name.lower()), p)
    return next((found[name] for name in names if name in found), None)


def is_folder_dataset(root: Path) -> bool:
    """An image folder (:data:`IMAGE_DIRS`), or a flat folder holding ``*_mask``-style files."""
    if find_dir(root, IMAGE_DIRS) is not None:
        return True
    return any(is_mask_stem(p.stem) for p in _listing(root) if p.suffix.lower() in io.IMAGE_EXTENSIONS)


class FolderSource(Source):
    """Image/mask pairs in folders (see the module docstring)."""

    format = "folder"

    def __init__(self, root: Path, *, spec: str | None = None, positive: int | None = None, invert_mask: bool = False):
        super().__init__(root.name, spec or str(root), positive=positive, invert_mask=invert_mask)
        self.root_dir = root
        self._images: list[Path] = []
        self._masks: list[Path] = []
        self._mask_parts: dict[int, list[Path]] = {}  # further parts of sample i's mask (``x_mask_1``, ...)
        self._instances: list[Path | None] = []
        self._derived = False  # masks derived from instances/ (no masks/ folder)
        self._instance_masks: bool | None = None  # the masks hold one id per object (decided on first use)
        self._channels: int | None = None
        self._declared = self._read_declared()
        images_dir = find_dir(root, IMAGE_DIRS)
        if images_dir is not None:
            masks_dir = find_dir(root, MASK_DIRS)
            instances_dir = root / INSTANCES_DIR
            if masks_dir is None and not instances_dir.is_dir():
                others = sorted(p.name + "/" for p in root.iterdir() if p.is_dir() and p != images_dir)
                what = f"has {images_dir.name}/ but no masks/ folder"
                what += f" (it has {', '.join(others)})" if others else ""
                fix = "put the masks in masks/ (or instance labels in instances/), named after their images"
                self.findings.append(Problem("error", str(root), what, fix))
                return
            by_stem = self._unique_stems(self._images_of(_listing(images_dir)))
            self._derived = masks_dir is None
            mask_source = masks_dir or instances_dir
            self._pair(by_stem, self._images_of(_listing(mask_source)), mask_source)
            if self._derived:
                self._instances = list(self._masks)
            elif instances_dir.is_dir():
                self._pair_instances(by_stem, instances_dir)
        else:
            files = self._images_of(_listing(root))
            masks = [p for p in files if is_mask_stem(p.stem)]
            self._pair(self._unique_stems([p for p in files if p not in masks]), masks, root)
        if not self.ids and not any(p.severity == "error" for p in self.findings):
            self.findings.append(Problem("error", str(root), "holds no image/mask pairs", "see docs/data.md"))

    def _read_declared(self) -> Declared | None:
        path = self.root_dir / "labels.json"
        if not path.is_file():
            return None
        try:
            labels = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise fail(path, f"not valid JSON ({exc})", "fix or remove labels.json") from None
        if not isinstance(labels, dict):
            raise fail(path, "must be an object of class name -> value", 'e.g. {"background": 0, "cell": 255}')
        return parse_declared(labels, str(path))

    def _images_of(self, files: list[Path]) -> list[Path]:
        """Files with a supported extension; the others are reported."""
        kept = []
        for p in files:
            if p.suffix.lower() in io.IMAGE_EXTENSIONS:
                kept.append(p)
            else:
                what = f"unsupported extension {p.suffix!r}"
                fix = f"convert it to one of {', '.join(sorted(io.IMAGE_EXTENSIONS))} or move it out of the data folder"
                self.findings.append(Problem("error", str(p), what, fix))
        return kept

    def _unique_stems(self, files: list[Path]) -> dict[str, Path]:
        counts = Counter(p.stem for p in files)
        for p in files:
            if counts[p.stem] > 1:
                what = f"stem {p.stem!r} is used by {counts[p.stem]} files"
                self.findings.append(Problem("error", str(p), what, "keep one file per stem"))
        return {p.stem: p for p in files if counts[p.stem] == 1}

    def _match(self, by_stem: dict[str, Path], files: list[Path], kind: str) -> dict[str, list[Path]]:
        """``files`` per image stem; a file belonging to no image is a warning (``kind`` names it)."""
        candidates: dict[str, list[Path]] = {}
        for f in files:
            base = next((b for b in _bases(f.stem) if b in by_stem), None)
            if base is None:
                what = f"{kind} without an image"
                self.findings.append(Problem("warning", str(f), what, f"add its image or remove the {kind}"))
            else:
                candidates.setdefault(base, []).append(f)
        return candidates

    def _pair(self, by_stem: dict[str, Path], masks: list[Path], masks_dir: Path) -> None:
        candidates = self._match(by_stem, masks, "mask")
        for stem, image in by_stem.items():
            found = sorted(candidates.get(stem, []), key=lambda p: natural_key(p.stem))
            if len(found) == 1 or _parts_of_one_mask(found):
                if len(found) > 1:
                    self._mask_parts[len(self.ids)] = found[1:]
                self.ids.append(stem)
                self._images.append(image)
                self._masks.append(found[0])
            elif not found:
                where = "" if masks_dir == image.parent else f" in {masks_dir.name}/"
                what = f"no mask{where} {_looked_for(stem)}"
                self.findings.append(Problem("error", str(image), what, "add the mask or move the image out"))
            else:
                what = f"several masks match: {', '.join(p.name for p in found)}"
                self.findings.append(Problem("error", str(image), what, "keep exactly one mask per image"))

    def _pair_instances(self, by_stem: dict[str, Path], instances_dir: Path) -> None:
        """The instance label image of every paired sample, or None (a warning) where there is none."""
        candidates = self._match(by_stem, self._images_of(_listing(instances_dir)), "instance label image")
        for stem, image in zip(self.ids, self._images, strict=True):
            found = candidates.get(stem, [])
            self._instances.append(found[0] if len(found) == 1 else None)
            if not found:
                what = f"no instance labels in {instances_dir.name}/ {_looked_for(stem)}"
                fix = "add them for instance tasks; semantic training uses the mask"
                self.findings.append(Problem("warning", str(image), what, fix))
            elif len(found) > 1:
                what = f"several instance label images match: {', '.join(p.name for p in found)}"
                self.findings.append(Problem("error", str(image), what, "keep exactly one per image"))

    # --- Source ---------------------------------------------------------------------------------------------
    def declared_labels(self) -> Declared | None:
        return self._declared

    @property
    def root(self) -> str:
        return str(self.root_dir)

    def image_path(self, i: int) -> str:
        return str(self._images[i])

    def mask_path(self, i: int) -> str:
        return str(self._masks[i])

    def instance_path(self, i: int) -> str | None:
        path = self._instance_file(i)
        return None if path is None else str(path)

    @property
    def has_instances(self) -> bool:
        if self._instances:
            return all(p is not None for p in self._instances)
        return bool(self.ids) and self.label_map.instance_ids  # masks with one id per object; a bad mask raises

    def _masks_hold_instances(self) -> bool:
        """The masks hold one id per object (their label map says so: :mod:`unetzoo.data.labels`); False while
        the masks cannot be read or mapped, which ``data check`` reports on its own. Decided once."""
        if self._instance_masks is None:
            try:
                self._instance_masks = self.label_map.instance_ids
            except DataError:
                self._instance_masks = False
        return self._instance_masks

    def _instance_file(self, i: int) -> Path | None:
        """Sample ``i``'s instance labels: its file in instances/, else its mask if the masks hold one id per
        object (StarDist's and Cellpose's images/ + masks/)."""
        if self._instances:
            return self._instances[i]
        return self._masks[i] if self._masks_hold_instances() else None

    def files(self) -> list[Path]:
        labels = self.root_dir / "labels.json"
        instances = [] if self._derived else [p for p in self._instances if p is not None]
        parts = [p for i in sorted(self._mask_parts) for p in self._mask_parts[i]]
        return [*self._images, *self._masks, *parts, *instances, *([labels] if labels.is_file() else [])]

    def headers(self, i: int) -> tuple[io.ImageInfo, io.ImageInfo]:
        return io.image_info(self._images[i]), io.image_info(self._masks[i])

    def verify(self, i: int) -> None:
        io.verify_image(self._images[i])
        for mask in (self._masks[i], *self._mask_parts.get(i, ())):
            io.image_info(mask)

    @property
    def in_channels(self) -> int:
        """3 if any image is colour (gray images are then replicated), else the common channel count."""
        if self._channels is None:
            found = {effective_channels(io.image_info(p)) for p in self._images}
            if len(found - {1, 3}) > 0 and len(found) > 1:
                what = f"images have different channel counts {sorted(found)}"
                raise DataError(Problem("error", self.root, what, "give all images the same channels"))
            self._channels = max(found | {1})
        return self._channels

    def read_image(self, i: int) -> np.ndarray:
        return to_channels(io.read_image(self._images[i]), self.in_channels, self.where(i))

    def read_mask(self, i: int) -> np.ndarray:
        if self._derived:  # sizes are checked where masks are (load_native, data check)
            return (read_instances(self._masks[i]) != 0).astype(np.uint8)
        mask = io.read_image(self._masks[i], mask=True)
        for part in self._mask_parts.get(i, ()):
            other = io.read_image(part, mask=True)
            if other.shape != mask.shape or other.dtype != mask.dtype:
                what = f"mask part is {other.shape} {other.dtype}, {self._masks[i].name} {mask.shape} {mask.dtype}"
                raise fail(part, what, "store every part of a mask at one size and dtype")
            mask = np.maximum(mask, other)
        return mask

    def read_instances(self, i: int) -> np.ndarray | None:
        path = self._instance_file(i)
        if path is None:
            return None
        image = io.image_info(self._images[i])
        return read_instances(path, (image.height, image.width))


def _parts_of_one_mask(masks: list[Path]) -> bool:
    """Whether ``masks`` are numbered parts of one mask: one mask suffix, each file a different number (or none)."""
    found = [_MASK_STEM.search(p.stem) for p in masks]
    if not all(found):
        return False
    kinds = {p.stem[: m.start()] + m.group(1).lower() for p, m in zip(masks, found, strict=True) if m}
    numbers = [m.group(2) for m in found if m]
    return len(kinds) == 1 and len(set(numbers)) == len(numbers)


def _looked_for(stem: str) -> str:
    return f"(looked for {stem}.* and {stem}{{{','.join(MASK_SUFFIXES)}}}.*)"


def _bases(mask_stem: str) -> list[str]:
    """Image stems a mask stem may belong to: itself, then without its mask suffix (and the part's number)."""
    found = _MASK_STEM.search(mask_stem)
    return [mask_stem] + ([mask_stem[: found.start()]] if found else [])
