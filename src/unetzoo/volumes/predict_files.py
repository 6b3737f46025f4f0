"""Which files make one case to predict, and where its label map goes: nnU-Net's ``{case}_{XXXX}`` naming.

A model trained on C modalities takes a case as C files ``{case}_0000{ending}`` ... ``{case}_{C-1:04d}{ending}``
(nnU-Net ``documentation/dataset_format.md``, ``imagesTs/``); naming any one of them, or a folder holding them,
names the case. A one-channel model also takes a single volume of any name, or a folder holding one DICOM
series (the case is named after the folder). The prediction is ``{out}/{case}{ending}``, written with the
input's geometry and header (``write_volume(like=channel 0)``); a DICOM series' is written as NIfTI
(``{out}/{folder}.nii.gz``, what nnU-Net and MONAI write for DICOM input): writing DICOM (a SEG object) is not
supported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from unetzoo.data.nnunet import CHANNEL_FILE
from unetzoo.data.problems import fail
from unetzoo.data.source import natural_key
from unetzoo.volumes.io import EXTENSIONS

DICOM_OUTPUT = ".nii.gz"
"""The ending of a DICOM series' prediction."""


@dataclass(frozen=True)
class VolumeInput:
    """One case: its channel files (or DICOM folder) in order, and its name and ending for the output."""

    case: str
    ending: str
    channels: tuple[Path, ...]
    dicom: bool = False


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file: 128-byte preamble then ``DICM`` (PS3.10 Sec. 7.1)."""
    try:
        with path.open("rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dicom_case(folder: Path, channels: int) -> VolumeInput | None:
    """The folder as one DICOM series case, or None if it holds no DICOM file."""
    if not any(p.is_file() and is_dicom_file(p) for p in sorted(folder.iterdir())):
        return None
    if channels != 1:
        what = f"holds a DICOM series but the model takes {channels} modalities (one file per modality)"
        fix = f"convert each modality's series to NIfTI and name them {folder.name}_0000.nii.gz ... _{channels - 1:04d}"
        raise fail(folder, what, fix)
    return VolumeInput(folder.name, DICOM_OUTPUT, (folder,), dicom=True)


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


def _add(found: dict[str, VolumeInput], case: VolumeInput) -> None:
    """Record ``case`` under its output name; two different inputs with one output name are refused."""
    key = f"{case.case}{case.ending}"
    other = found.setdefault(key, case)
    if other.channels[0].resolve() != case.channels[0].resolve():
        what = f"and {other.channels[0]} would both be predicted into {key}"
        raise fail(case.channels[0], what, "rename one or predict them into different --out folders")


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
                series = _dicom_case(path, channels)
                if series is None:
                    raise fail(
                        path, "holds no volume files", f"put {', '.join(EXTENSIONS)} files or one DICOM series in it"
                    )
                _add(found, series)
                continue
        else:
            files = [path]
        for p in files:
            _add(found, _case(p, channels))
    return [found[k] for k in sorted(found, key=natural_key)]
