"""Pair prediction files with ground-truth files by stem, for ``unetzoo score``.

* A file's **key** is its stem without one suffix of :data:`LABEL_SUFFIXES` (case-insensitive): ``img7.png``,
  ``img7_mask.tif`` (unetzoo's mask suffixes), ``img7_cp_masks.png`` (Cellpose), ``img7_pred.png`` all have
  the key ``img7``. Files pair when their keys are equal; extensions may differ.
* Only image files (:data:`unetzoo.data.io.IMAGE_EXTENSIONS`) are read; other files (Cellpose's ``_seg.npy``,
  notes) and sub-folders are ignored, and so are side outputs (:data:`SIDE_OUTPUTS`: ``unetzoo predict``'s
  ``_prob`` and ``_overlay``, Cellpose's ``_flows``, ``_cp_output``, ``_outlines``).
* Two files with one key in one folder: the one with a suffix wins if it is the only one (Cellpose writes
  ``img7_cp_masks.png`` beside ``img7.png``); otherwise it is an error.
* GT may be a dataset root: with ``instances=True`` its ``instances/`` folder is used, else its ``masks/`` if they
  hold one id per object (StarDist's and Cellpose's layout: :mod:`unetzoo.data.labels`); a root with ``images/``
  or ``masks/`` and neither is an error. Without ``instances``: ``masks/`` or ``labels/``, else ``instances/``.
* PRED and GT may also be single files (paired whatever their names), or PRED a file and GT a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from unetzoo.data.folder import IMAGE_DIRS, INSTANCES_DIR, MASK_DIRS, MASK_SUFFIXES, find_dir
from unetzoo.data.io import IMAGE_EXTENSIONS
from unetzoo.data.problems import DataError, fail
from unetzoo.data.source import natural_key

LABEL_SUFFIXES = ("_cp_masks", *MASK_SUFFIXES, "_instances", "_pred", "_prediction")
SIDE_OUTPUTS = ("_prob", "_overlay", "_flows", "_cp_output", "_cp_outlines", "_outlines")


@dataclass
class Pairs:
    """``pairs``: (key, prediction, ground truth) in natural key order; the files left without a partner."""

    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    unpaired_pred: list[Path] = field(default_factory=list)
    unpaired_gt: list[Path] = field(default_factory=list)


def pair_key(stem: str) -> str:
    lower = stem.lower()
    suffix = next((s for s in sorted(LABEL_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), "")
    return stem[: len(stem) - len(suffix)] if suffix and len(suffix) < len(stem) else stem


def label_files(folder: Path) -> dict[str, Path]:
    """The label images of a folder by key (rules in the module docstring)."""
    by_key: dict[str, list[Path]] = {}
    for p in folder.iterdir():
        image = p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        if image and not p.stem.lower().endswith(SIDE_OUTPUTS):
            by_key.setdefault(pair_key(p.stem), []).append(p)
    out = {}
    for key, files in sorted(by_key.items(), key=lambda kv: natural_key(kv[0])):
        files.sort()
        suffixed = [p for p in files if p.stem != key]
        if len(files) > 1 and len(suffixed) != 1:
            names = ", ".join(p.name for p in files)
            raise fail(files[0], f"several label images share the stem {key!r} ({names})", "keep one per image")
        out[key] = suffixed[0] if len(files) > 1 else files[0]
    return out


def ground_truth_folder(gt: Path, instances: bool) -> Path:
    """The folder (or file) holding the ground truth of a GT argument that may be a dataset root."""
    if gt.is_file():
        return gt
    if instances:
        if (gt / INSTANCES_DIR).is_dir():
            return gt / INSTANCES_DIR
        masks = find_dir(gt, MASK_DIRS)
        if masks is not None and _masks_hold_instances(gt):
            return masks
        if masks is not None or find_dir(gt, IMAGE_DIRS) is not None:
            raise fail(
                gt,
                "has no instances/ folder for --instances",
                "give instance label images (0 = background, one id per object), or score masks without --instances",
            )
        return gt
    return find_dir(gt, MASK_DIRS) or find_dir(gt, (INSTANCES_DIR,)) or gt


def _masks_hold_instances(root: Path) -> bool:
    """Whether the masks of dataset ``root`` hold one id per object (decoded to tell)."""
    from unetzoo.data.formats import open_unchecked

    try:
        return open_unchecked(root).has_instances
    except DataError:
        return False


def pair_files(pred: Path, gt: Path, *, instances: bool) -> Pairs:
    """Pair PRED with GT (files or folders; see the module docstring). Missing paths are errors."""
    for path, name in ((pred, "PRED"), (gt, "GT")):
        if not path.exists():
            raise fail(path, f"no such file or folder ({name})", "check the path")
    truth = ground_truth_folder(gt, instances)
    if pred.is_file() and truth.is_file():
        return Pairs([(pair_key(pred.stem), pred, truth)])
    if truth.is_file():
        raise fail(gt, "GT is one file but PRED a folder", "pass the ground-truth folder (or one prediction file)")
    gts = label_files(truth)
    preds = {pair_key(pred.stem): pred} if pred.is_file() else label_files(pred)
    result = Pairs()
    for key, path in preds.items():
        if key in gts:
            result.pairs.append((key, path, gts[key]))
        else:
            result.unpaired_pred.append(path)
    result.unpaired_gt = [path for key, path in gts.items() if key not in preds]
    return result
