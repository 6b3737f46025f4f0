"""Which files make one case to predict, and where its label map goes: nnU-Net's ``{case}_{XXXX}`` naming.

A model trained on C modalities takes a case as C files ``{case}_0000{ending}`` ... ``{case}_{C-1:04d}{ending}``
(nnU-Net ``documentation/dataset_format.md``, ``imagesTs/``); naming any one of them, or a folder holding them,
names the case. A one-channel model also takes a single volume of any name. The prediction is
``{out}/{case}{ending}``, written with the input's geometry and header (``write_volume(like=channel 0)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from unetzoo.data.nnunet import CHANNEL_FILE
from unetzoo.data.problems import fail
from unetzoo.data.source import natural_key
from unetzoo.volumes.io import EXTENSIONS


@dataclass(frozen=True)
class VolumeInput:
    """One case: its channel files in order, and its name and ending for the output."""

    case: str
    ending: str
    channels: tuple[Path, ...]


def volume_ending(path: Path) -> str | None:
    """The volume ending of a file name (``.nii.gz``, ``.nii``, ``.mha``, ``.mhd``, ``.nrrd``), or None."""
    return next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if path.name.lower().endswith(e)), None)


def _case(path: Path, channels: int) -> VolumeInput:
    ending = volume_ending(path)
    if ending is None:
        raise fail(path, "is not a volume file", f"give {', '.join(EXTENSIONS)} files (nnU-Net: case_0000.nii.gz)")
    stem = path.name[: -len(ending)]
    match = CHANNEL_FILE.match(stem)
    if match is None:
        if channels != 1:
            what = f"the model takes {channels} modalities but the file is not named {{case}}_0000{ending}"
            raise fail(path, what, f"name the case's channel files {stem}_0000{ending} ... {stem}_{channels - 1:04d}")
        return VolumeInput(stem, ending, (path,))
    case = match["case"]
    files = tuple(path.with_name(f"{case}_{k:04d}{ending}") for k in range(channels))
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise fail(missing[0], f"is missing: the model takes {channels} modalities", "add the channel file")
    return VolumeInput(case, ending, files)


def collect_volume_inputs(inputs: list[str | os.PathLike[str]], channels: int) -> list[VolumeInput]:
    """One :class:`VolumeInput` per case named by ``inputs`` (files, or folders of them), in natural order."""
    found: dict[str, VolumeInput] = {}
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise fail(path, "no such file or folder", "check the input path")
        if path.is_dir():
            files = [p for p in sorted(path.iterdir()) if volume_ending(p)]
            files = [p for p in files if channels == 1 or p.name[: -len(volume_ending(p) or "")].endswith("_0000")]
            if not files:
                raise fail(path, "holds no volume files", f"put {', '.join(EXTENSIONS)} files in it")
        else:
            files = [path]
        for p in files:
            case = _case(p, channels)
            found.setdefault(f"{case.case}{case.ending}", case)
    return [found[k] for k in sorted(found, key=natural_key)]
