"""Write any source as an nnU-Net raw v2 dataset, so nnU-Net can be run on the same data (``unetzoo data convert``).

Layout: ``OUT/Dataset{ID:03d}_{NAME}/{dataset.json, imagesTr/{case}_{XXXX}{ending}, labelsTr/{case}{ending}}``.
8-bit RGB images stay one ``_0000`` file with channel names R, G, B (nnU-Net's natural-image convention); other
images get one gray file per channel. Class 0 is named ``background`` (nnU-Net requires it; the source's names are
kept under ``unetzoo.class_names``). The ending is ``.png`` when every image and label fits PNG losslessly
(8-bit, 16-bit gray), else ``.tif``. Labels are the class ids (0 = background), as nnU-Net requires. Case
identifiers are the sample ids with characters outside ``[A-Za-z0-9_.-]`` replaced by ``_``; renamed ids are listed
in ``dataset.json`` under ``unetzoo.case_ids``.

The data is checked first and written to a temporary folder renamed into place at the end: bad data or an
interruption leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from unetzoo.data.check import check_source
from unetzoo.data.io import write_image
from unetzoo.data.problems import fail
from unetzoo.data.source import Source

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def case_ids(ids: list[str]) -> list[str]:
    """nnU-Net-safe, unique case identifiers for ``ids``."""
    cases: list[str] = []
    taken: set[str] = set()
    for sample in ids:
        case = _UNSAFE.sub("_", sample) or "case"
        base, k = case, 1
        while case in taken:
            case, k = f"{base}-{k}", k + 1
        taken.add(case)
        cases.append(case)
    return cases


def _layout(src: Source, dtypes: set[str]) -> tuple[bool, str]:
    """(one RGB file per case?, file ending) for the whole dataset."""
    rgb_single = src.in_channels == 3 and dtypes == {"uint8"}
    png = dtypes <= {"uint8", "uint16", "bool"} and src.classes <= 65536
    return rgb_single, ".png" if png else ".tif"


def _label_array(ids: np.ndarray, classes: int) -> np.ndarray:
    return ids.astype(np.uint8 if classes <= 256 else np.uint16)


def convert_to_nnunet(src: Source, out: str | os.PathLike[str], dataset_id: int, name: str | None = None) -> Path:
    """Write ``src`` as ``out/Dataset{dataset_id:03d}_{name}``; returns that folder.

    Raises:
        UnetzooError: bad data (the first ``data check`` error), an invalid id/name, or an existing dataset id.
    """
    out = Path(out)
    name = name or _UNSAFE.sub("_", src.name.removeprefix("builtin:").split("?")[0].replace(":", "_"))
    if not 1 <= dataset_id <= 999:
        raise fail(f"--id {dataset_id}", "nnU-Net dataset ids are 1..999", "pick a free id (custom ones from 500)")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise fail(f"--name {name}", "nnU-Net dataset names use letters, digits, '_' and '-'", "choose another name")
    taken = sorted(out.glob(f"Dataset{dataset_id:03d}_*")) if out.is_dir() else []
    if taken:
        raise fail(taken[0], f"dataset id {dataset_id} is taken", "pick another --id or remove that folder")
    report = check_source(src)
    report.raise_for_errors()
    target = out / f"Dataset{dataset_id:03d}_{name}"
    rgb_single, ending = _layout(src, set(report.summary["image_dtypes"]))
    cases = case_ids(src.ids)
    tmp = out / f".{target.name}.tmp-{os.getpid()}"
    created = not out.exists()
    try:
        (tmp / "imagesTr").mkdir(parents=True)
        (tmp / "labelsTr").mkdir()
        for i, case in enumerate(cases):
            image, ids = src.load_native(i)
            planes = [image] if rgb_single else [image[..., c] for c in range(image.shape[2])]
            for c, plane in enumerate(planes):
                write_image(tmp / "imagesTr" / f"{case}_{c:04d}{ending}", plane)
            write_image(tmp / "labelsTr" / f"{case}{ending}", _label_array(ids, src.classes))
        (tmp / "dataset.json").write_text(json.dumps(_dataset_json(src, cases, ending), indent=2) + "\n")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return target


def _dataset_json(src: Source, cases: list[str], ending: str) -> dict[str, Any]:
    channels = {1: ["gray"], 3: ["R", "G", "B"]}.get(src.in_channels, [f"channel{c}" for c in range(src.in_channels)])
    renamed = {case: sample for case, sample in zip(cases, src.ids, strict=True) if case != sample}
    meta: dict[str, Any] = {
        "channel_names": {str(c): n for c, n in enumerate(channels)},
        "labels": {"background": 0, **{n: k for k, n in enumerate(src.class_names) if k > 0}},
        "numTraining": len(cases),
        "file_ending": ending,
        "name": src.name,
        "description": f"converted by unetzoo from {src.spec}",
        "unetzoo": {"source": src.spec, "fingerprint": src.fingerprint(), "class_names": src.class_names},
    }
    if renamed:
        meta["unetzoo"]["case_ids"] = renamed
    return meta
