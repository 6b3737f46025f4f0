"""nnU-Net raw v2 datasets of volumes: read cases with their channels stacked, and write a dataset.

Layout (nnU-Net ``documentation/dataset_format.md``): ``dataset.json`` with ``channel_names`` (one entry per
input channel), ``labels`` (name -> id, background 0; region-based datasets map names to lists of ids and add
``regions_class_order``, ``documentation/region_based_training.md``), ``numTraining`` and ``file_ending``;
``imagesTr/{case}_{XXXX}{file_ending}`` one file per channel XXXX, ``labelsTr/{case}{file_ending}``, and
``imagesTs/`` for cases without labels. The JSON checks are the 2D reader's (:mod:`unetzoo.data.nnunet`).

All channels and the label of a case must share one grid: same shape and the same geometry up to ITK's
tolerance (:meth:`Geometry.matches`), as nnU-Net's ``verify_dataset_integrity`` demands.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.nnunet import CHANNEL_FILE, check_labels, load_dataset_json
from unetzoo.data.problems import fail
from unetzoo.data.source import natural_key
from unetzoo.utils.atomic import atomic_write_text
from unetzoo.volumes.io import Case, Volume, check_same_grid, read_volume, write_volume

ENDINGS_3D = (".nii.gz", ".nii", ".mha", ".nrrd")
"""The volume endings nnU-Net's NibabelIO and SimpleITKIO readers accept that unetzoo reads too."""


class VolumeDataset:
    """A 3D nnU-Net raw v2 dataset folder: ``ids`` of the labelled cases, :meth:`read` one with its label.

    Args:
        root: the ``DatasetXXX_Name`` folder holding ``dataset.json``, ``imagesTr`` and ``labelsTr``.

    Raises:
        UnetzooError: one line for a bad dataset.json, a missing folder or channel file.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        json_path = self.root / "dataset.json"
        if not json_path.is_file():
            raise fail(json_path, "does not exist", "an nnU-Net dataset folder holds dataset.json")
        self.meta: dict[str, Any] = load_dataset_json(json_path)
        self.file_ending: str = self.meta["file_ending"]
        if self.file_ending.lower() not in ENDINGS_3D:
            what = f"file_ending {self.file_ending!r} is not a volume format"
            raise fail(json_path, what, f"use one of {', '.join(ENDINGS_3D)}")
        check_labels(json_path, self.meta, regions=True)
        names = self.meta["channel_names"]
        self.channel_names: list[str] = [names[k] for k in sorted(names, key=int)]
        self.labels: dict[str, int | list[int]] = self.meta["labels"]
        self._images: dict[str, list[Path]] = {}
        self._labels: dict[str, Path] = {}
        self._index()
        self.ids: list[str] = sorted(self._labels, key=natural_key)

    def _index(self) -> None:
        images, labels = self.root / "imagesTr", self.root / "labelsTr"
        for folder in (images, labels):
            if not folder.is_dir():
                raise fail(folder, "is missing", "an nnU-Net dataset needs imagesTr/ and labelsTr/")
        ending, count = self.file_ending, len(self.channel_names)
        channels: dict[str, dict[int, Path]] = {}
        for p in images.iterdir():
            match = CHANNEL_FILE.match(p.name[: -len(ending)]) if p.name.endswith(ending) else None
            if match is not None:
                channels.setdefault(match["case"], {})[int(match["channel"])] = p
        for p in labels.iterdir():
            if not p.name.endswith(ending):
                continue
            case = p.name[: -len(ending)]
            have = channels.get(case, {})
            missing = [k for k in range(count) if k not in have]
            if missing:
                what = f"case {case!r} lacks imagesTr/{case}_{missing[0]:04d}{ending}"
                raise fail(p, what, f"give every case its {count} channel files, or drop the case")
            self._images[case] = [have[k] for k in range(count)]
            self._labels[case] = p

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Case]:
        return (self.read(case) for case in self.ids)

    def files(self, case: str) -> tuple[list[Path], Path]:
        """The channel files and the label file of ``case``."""
        return self._images[case], self._labels[case]

    def read(self, case: str) -> Case:
        """Read ``case``: channels stacked ``(C, z, y, x)``, label ``(z, y, x)``, their shared geometry."""
        if case not in self._labels:
            raise fail(self.root, f"has no labelled case {case!r}", f"choose one of {', '.join(self.ids[:5])}, ...")
        paths, label_path = self.files(case)
        volumes = [read_volume(p) for p in paths]
        label = read_volume(label_path)
        check_same_grid([*volumes, label])
        first = volumes[0]
        image = np.stack([v.array for v in volumes])
        reference = replace(first, array=image[0])
        return Case(case, image, label.array, first.geometry, reference)


def write_dataset(
    root: str | os.PathLike[str],
    cases: Iterable[Case],
    *,
    channel_names: Sequence[str],
    labels: dict[str, int | list[int]],
    file_ending: str = ".nii.gz",
    regions_class_order: Sequence[int] | None = None,
    name: str | None = None,
) -> Path:
    """Write ``cases`` as an nnU-Net raw v2 dataset in ``root`` (labelled ones to imagesTr/labelsTr, the
    others to imagesTs) and its ``dataset.json`` last; return ``root``. Files are written atomically, each
    with the case's geometry (``like=`` its ``reference`` where it has one, keeping that file's header)."""
    root = Path(root)
    if file_ending not in ENDINGS_3D:
        raise fail(root, f"file_ending {file_ending!r} is not a volume format", f"use one of {', '.join(ENDINGS_3D)}")
    meta: dict[str, Any] = {
        "name": name or root.name,
        "channel_names": {str(k): n for k, n in enumerate(channel_names)},
        "labels": labels,
        "numTraining": 0,
        "file_ending": file_ending,
    }
    if regions_class_order is not None:
        meta["regions_class_order"] = list(regions_class_order)
    check_labels(root / "dataset.json", meta, regions=True)
    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for case in cases:
        if case.image.shape[0] != len(channel_names):
            what = f"case {case.id!r} has {case.image.shape[0]} channels, channel_names {len(channel_names)}"
            raise fail(root, what, "pass one channel name per image channel")
        like = _like(case)
        folder = "imagesTr" if case.label is not None else "imagesTs"
        for k, channel in enumerate(case.image):
            write_volume(root / folder / f"{case.id}_{k:04d}{file_ending}", channel, case.geometry, like=like)
        if case.label is not None:
            write_volume(root / "labelsTr" / f"{case.id}{file_ending}", case.label, case.geometry, like=like)
            meta["numTraining"] += 1
    atomic_write_text(root / "dataset.json", json.dumps(meta, indent=2) + "\n")
    return root


def _like(case: Case) -> Volume | None:
    """The case's reference volume where it can serve as ``like=`` (same grid), else None."""
    ref = case.reference
    return ref if ref is not None and ref.array.shape == case.image.shape[1:] else None
