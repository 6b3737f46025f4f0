"""nnU-Net raw v2 datasets (2D): ``dataset.json`` + ``imagesTr/{case}_{XXXX}{ending}`` + ``labelsTr/{case}{ending}``.

Read as nnU-Net documents the format (``documentation/dataset_format.md``): ``channel_names`` gives the input
channels, one file per channel with a four-digit suffix, except RGB natural images stored as one ``_0000`` file
with ``channel_names`` R, G, B; ``labels`` maps class name -> consecutive integer id, background 0;
``file_ending`` is one of the 2D endings (``.png``, ``.bmp``, ``.tif``, ``.tiff``). Region-based labels and the
``ignore`` label are not supported. ``imagesTs`` is not read (no labels).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data import io
from unetzoo.data.problems import Problem, fail
from unetzoo.data.source import Declared, Source, natural_key, to_channels

ENDINGS_2D = (".png", ".bmp", ".tif", ".tiff")
CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


def load_dataset_json(path: Path) -> dict[str, Any]:
    """Parse an nnU-Net v2 ``dataset.json`` and check the fields every reader needs (2D and 3D)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(path, f"not valid JSON ({exc})", "fix dataset.json") from None
    if not isinstance(meta, dict):
        raise fail(path, "is not a JSON object", "see nnU-Net's documentation/dataset_format.md")
    if "modality" in meta and "channel_names" not in meta:
        raise fail(path, "is an nnU-Net v1 / MSD dataset.json ('modality')", "convert it to v2 (channel_names)")
    for key, kind in (("channel_names", dict), ("labels", dict), ("file_ending", str)):
        if not isinstance(meta.get(key), kind):
            raise fail(path, f"needs {key!r} ({kind.__name__})", "see nnU-Net's documentation/dataset_format.md")
    return meta


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_labels(path: Path, meta: dict[str, Any], *, regions: bool) -> None:
    """Check ``labels``: consecutive integer ids 0..K-1 with background 0, no ``ignore`` label.

    With ``regions``, an entry may also be a list of ids (a region, nnU-Net's region-based training: BraTS'
    ``"whole_tumor": [1, 2, 3]``); then ``regions_class_order`` must list one id per non-background entry.
    """
    labels = meta["labels"]
    if "ignore" in labels:
        raise fail(path, "the 'ignore' label is not supported", "remove it and its pixels, or map them to a class")
    if all(_is_id(v) for v in labels.values()):
        if sorted(labels.values()) != list(range(len(labels))) or len(labels) < 2:
            what = f"labels {labels} are not consecutive ids 0..K-1 with background 0"
            raise fail(path, what, "renumber the classes as nnU-Net requires")
        return
    if not regions:
        raise fail(path, "region-based labels (lists of ids) are not supported", "use one integer id per class")
    if not all(_is_id(v) or (isinstance(v, list) and v and all(_is_id(i) for i in v)) for v in labels.values()):
        raise fail(path, f"labels {labels} holds an entry that is neither an id nor a list of ids", "fix it")
    ids = sorted({i for v in labels.values() for i in (v if isinstance(v, list) else [v])})
    if ids != list(range(len(ids))) or labels.get("background") != 0:
        what = f"the ids in labels {labels} are not consecutive 0..K-1 with background 0"
        raise fail(path, what, "renumber the classes as nnU-Net requires")
    order = meta.get("regions_class_order")
    if not (isinstance(order, list) and all(_is_id(i) for i in order) and len(order) == len(labels) - 1):
        what = "region-based labels need 'regions_class_order' with one id per non-background entry"
        raise fail(path, what, "add it as nnU-Net's documentation/region_based_training.md shows")


def read_dataset_json(path: Path) -> dict[str, Any]:
    """Parse and validate the fields unetzoo needs from a 2D nnU-Net v2 ``dataset.json``."""
    meta = load_dataset_json(path)
    if meta["file_ending"].lower() not in ENDINGS_2D:
        what = f"file_ending {meta['file_ending']!r} is not a 2D format"
        raise fail(path, what, f"unetzoo reads 2D nnU-Net datasets ({', '.join(ENDINGS_2D)})")
    check_labels(path, meta, regions=False)
    return meta


class NnunetSource(Source):
    """An nnU-Net raw v2 dataset folder (see the module docstring)."""

    format = "nnunet"
    declared_in = "dataset.json"

    def __init__(self, root: Path, *, positive: int | None = None, invert_mask: bool = False) -> None:
        super().__init__(root.name, str(root), positive=positive, invert_mask=invert_mask)
        self.root_dir = root
        self.meta = read_dataset_json(root / "dataset.json")
        self.ending = self.meta["file_ending"]
        self.channel_names = [self.meta["channel_names"][k] for k in sorted(self.meta["channel_names"], key=int)]
        labels = sorted(self.meta["labels"].items(), key=lambda kv: kv[1])
        self._declared: Declared = (tuple(v for _, v in labels), tuple(k for k, _ in labels), False)
        self._files: list[list[Path]] = []
        self._labels: list[Path] = []
        self._index()

    def _index(self) -> None:
        images_dir, labels_dir = self.root_dir / "imagesTr", self.root_dir / "labelsTr"
        for folder in (images_dir, labels_dir):
            if not folder.is_dir():
                self.findings.append(Problem("error", str(folder), "missing", "an nnU-Net dataset needs it"))
        if self.findings:
            return
        channels: dict[str, dict[int, Path]] = {}
        for p in images_dir.iterdir():
            match = CHANNEL_FILE.match(p.name[: -len(self.ending)]) if p.name.endswith(self.ending) else None
            if match is None:
                if not p.name.startswith("."):
                    what = f"not named {{case}}_{{XXXX}}{self.ending}"
                    self.findings.append(Problem("warning", str(p), what, "rename or remove it"))
                continue
            channels.setdefault(match["case"], {})[int(match["channel"])] = p
        rgb_single = len(self.channel_names) == 3 and not any(1 in c for c in channels.values())
        wanted = [0] if rgb_single else list(range(len(self.channel_names)))
        labels = sorted((p for p in labels_dir.iterdir() if p.name.endswith(self.ending)), key=lambda p: p.name)
        cases = {p.name[: -len(self.ending)]: p for p in labels}
        for case in sorted(cases, key=natural_key):
            have = channels.get(case, {})
            missing = [k for k in wanted if k not in have]
            if missing:
                what = f"case {case!r} lacks imagesTr/{case}_{missing[0]:04d}{self.ending}"
                self.findings.append(Problem("error", str(cases[case]), what, "add the channel file or drop the case"))
                continue
            self.ids.append(case)
            self._files.append([have[k] for k in wanted])
            self._labels.append(cases[case])
        for case in sorted(set(channels) - set(cases), key=natural_key):
            what = f"case {case!r} has no label in labelsTr/"
            self.findings.append(Problem("warning", str(channels[case][min(channels[case])]), what, "add or drop it"))
        n = self.meta.get("numTraining")
        if isinstance(n, int) and n != len(cases):
            what = f"numTraining is {n} but labelsTr holds {len(cases)} cases"
            self.findings.append(Problem("warning", str(self.root_dir / "dataset.json"), what, "update numTraining"))

    # --- Source ---------------------------------------------------------------------------------------------
    def declared_labels(self) -> Declared:
        return self._declared

    @property
    def root(self) -> str:
        return str(self.root_dir)

    @property
    def in_channels(self) -> int:
        return len(self.channel_names)

    def image_path(self, i: int) -> str:
        return str(self._files[i][0])

    def mask_path(self, i: int) -> str:
        return str(self._labels[i])

    def files(self) -> list[Path]:
        return [self.root_dir / "dataset.json", *(p for f in self._files for p in f), *self._labels]

    def headers(self, i: int) -> tuple[io.ImageInfo, io.ImageInfo]:
        infos = [io.image_info(p) for p in self._files[i]]
        for p, info in zip(self._files[i][1:], infos[1:], strict=True):
            if (info.height, info.width) != (infos[0].height, infos[0].width):
                what = f"is {info.height}x{info.width} (HxW), channel 0 is {infos[0].height}x{infos[0].width}"
                raise fail(p, what, "all channels of a case must have one size")
        first = infos[0]
        channels = sum(info.channels for info in infos)
        merged = io.ImageInfo(first.format, first.height, first.width, channels, first.dtype, first.palette)
        return merged, io.image_info(self._labels[i])

    def verify(self, i: int) -> None:
        for p in self._files[i]:
            io.verify_image(p)
        io.image_info(self._labels[i])

    def read_image(self, i: int) -> np.ndarray:
        planes = [io.read_image(p) for p in self._files[i]]
        for p, plane in zip(self._files[i][1:], planes[1:], strict=True):
            if plane.shape != planes[0].shape:
                what = f"has shape {plane.shape}, channel 0 {planes[0].shape}"
                raise fail(p, what, "all channels of a case must be 2D images of one size")
        image = planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)
        return to_channels(image, self.in_channels, self.where(i))

    def read_mask(self, i: int) -> np.ndarray:
        return io.read_image(self._labels[i], mask=True)
