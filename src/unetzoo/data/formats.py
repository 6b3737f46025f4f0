"""One ``--data`` option for every format: detection, ``builtin:``/``synthetic:`` specs, and :func:`open_source`.

Detection order for a path: ``dataset.json`` + ``imagesTr/`` -> ``volumes`` if its ``file_ending`` is a volume
format (NIfTI, MetaImage, NRRD: :class:`unetzoo.volumes.slices.VolumeSlices`), else ``nnunet``; an image folder or
``*_mask`` files -> ``folder``; a ``.tif`` file, or a folder holding one ``*volume*.tif`` with its label stack ->
``stack``. ``synthetic:brain?...`` is a volume dataset too. ``fmt`` overrides detection.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from unetzoo.data.folder import FolderSource, is_folder_dataset
from unetzoo.data.nnunet import NnunetSource
from unetzoo.data.problems import DataError, Problem, fail
from unetzoo.data.source import Source
from unetzoo.data.stack import TIFF_SUFFIXES, StackSource, stack_pairs

if TYPE_CHECKING:
    from unetzoo.volumes.slices import SliceOptions

FORMATS = ("folder", "nnunet", "stack", "volumes")
BUILTIN_DIR = Path(__file__).parent / "builtin"
BUILTIN = ("nuclei",)
"""Bundled datasets (``builtin:NAME``); see ``src/unetzoo/data/builtin/*/README.md``."""

_EXPECTED = (
    "images/ + masks/, images beside their <image>_mask files in one folder, dataset.json + imagesTr/ (nnU-Net), "
    "or train-volume.tif + train-labels.tif"
)


def detect_format(path: Path) -> str:
    """The format of a dataset path (see the module docstring); raises when none fits."""
    if not path.exists():
        raise fail(path, "no such file or folder", "check the --data path")
    if path.is_file():
        if path.suffix.lower() in TIFF_SUFFIXES:
            return "stack"
        raise fail(path, "a single file is not a dataset", f"point --data at a folder with {_EXPECTED}")
    if (path / "dataset.json").is_file() and (path / "imagesTr").is_dir():
        return "volumes" if _volume_ending(path / "dataset.json") else "nnunet"
    if is_folder_dataset(path):
        return "folder"
    if stack_pairs(path):
        return "stack"
    folders = sorted(p.name + "/" for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    what = "cannot tell the dataset format" + (f" (it has {', '.join(folders[:6])})" if folders else "")
    raise fail(path, what, f"expected {_EXPECTED}, or pass --format")


def _volume_ending(dataset_json: Path) -> bool:
    """Does this nnU-Net ``dataset.json`` declare a volume ``file_ending`` (a 3D dataset)?"""
    from unetzoo.volumes.nnunet import ENDINGS_3D

    try:
        ending = json.loads(dataset_json.read_text(encoding="utf-8")).get("file_ending")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False  # the 2D reader reports the broken file
    return isinstance(ending, str) and ending.lower() in ENDINGS_3D


def _stack_file(path: Path) -> Path:
    if path.is_file():
        return path
    pairs = stack_pairs(path)
    if len(pairs) != 1:
        found = ", ".join(p.name for p, _ in pairs) or "none"
        raise fail(path, f"needs exactly one image stack with its labels (found: {found})", "pass the stack file")
    return pairs[0][0]


def open_unchecked(
    data: str | Path,
    fmt: str | None = None,
    positive: int | None = None,
    invert_mask: bool = False,
    slices: SliceOptions | None = None,
) -> Source:
    """Build the source, keeping its structural problems in ``findings`` (what ``data check`` lists).

    ``slices`` (axis, normalisation, crop) applies to volume datasets only."""
    spec = str(data)
    options = {"positive": positive, "invert_mask": invert_mask}
    if spec.startswith("synthetic:brain") or fmt == "volumes":
        return _volume_slices(spec, slices)
    if spec.startswith("synthetic:"):
        from unetzoo.data.synthetic import SyntheticSource  # scipy: imported only for synthetic data

        return SyntheticSource(spec, **options)
    if spec.startswith("builtin:"):
        name = spec.removeprefix("builtin:")
        if name not in BUILTIN:
            raise fail(spec, "unknown builtin dataset", f"choose one of {', '.join(BUILTIN)}")
        source = FolderSource(BUILTIN_DIR / name, spec=spec, **options)
        source.name = spec
        return source
    path = Path(spec).expanduser()
    if fmt is not None and fmt not in FORMATS:
        raise fail(f"--format {fmt}", "unknown data format", f"choose one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if not path.exists():
        raise fail(path, "no such file or folder", "check the --data path")
    if fmt == "volumes":
        return _volume_slices(str(path), slices)
    if fmt == "nnunet":
        return NnunetSource(path.resolve(), **options)
    if fmt == "stack":
        return StackSource(_stack_file(path).resolve(), **options)
    if not path.is_dir():
        raise fail(path, "a folder dataset must be a directory", "point --data at the folder")
    return FolderSource(path.resolve(), **options)


def _volume_slices(spec: str, slices: SliceOptions | None) -> Source:
    from unetzoo.volumes.slices import VolumeSlices

    return VolumeSlices(spec, slices)


def open_source(
    data: str | Path,
    fmt: str | None = None,
    positive: int | None = None,
    invert_mask: bool = False,
    slices: SliceOptions | None = None,
) -> Source:
    """Open a dataset for training or prediction: a path, ``builtin:NAME`` or ``synthetic:NAME?...``.

    Args:
        data: the ``--data`` value.
        fmt: ``folder``, ``nnunet``, ``stack`` or ``volumes`` to override detection.
        positive: binary masks: the stored value that is foreground (every other value is background).
        invert_mask: swap the two classes of binary masks (ISBI 2012: make membranes the foreground).
        slices: how a volume dataset is cut into 2D samples (:class:`unetzoo.volumes.slices.SliceOptions`).

    Raises:
        UnetzooError: the first structural problem (missing masks, unsupported files, ...), pointing to
            ``unetzoo data check`` for the full list. Pixel-level problems surface in ``check_source`` or on load.
    """
    source = open_unchecked(data, fmt, positive, invert_mask, slices)
    errors = [p for p in source.findings if p.severity == "error"]
    if errors:
        first = errors[0]
        more = (
            f" ({len(errors) - 1} more: run `unetzoo data check {shlex.quote(source.spec)}`)" if len(errors) > 1 else ""
        )
        raise DataError(Problem("error", first.file, first.what, first.fix + more))
    return source
