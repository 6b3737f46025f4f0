"""NumPy twin of :class:`unetzoo.data.Preprocess` for the runtime (that class's module imports torch).

It reads the preprocessing record saved in the checkpoint and copied into the model card
(``{"normalize", "channels", "mean", "std"}``) and applies exactly the same channel conversion and
normalization, in the same float32 operations, so that ONNX predictions see what training saw.
``tests/deploy/test_runtime.py`` checks bit-for-bit parity with the data package's class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.utils.channels import convert_channels
from unetzoo.utils.polarity import negatively_skewed
from unetzoo.volumes.intensity import zscore_nonzero

NORMALIZATIONS = ("zscore", "zscore_polarity", "nonzero", "minmax", "dataset", "none")
_EPS = 1e-6
_KEYS = {"normalize", "channels", "mean", "std"}


def check_record(record: Mapping[str, Any], where: str) -> None:
    """Raise a UnetzooError naming ``where`` if ``record`` is not a valid preprocessing record."""
    unknown = set(record) - _KEYS
    if unknown:
        raise UnetzooError(f"{where}: preprocessing record has unknown keys {sorted(unknown)}; re-export the model")
    if record.get("normalize") not in NORMALIZATIONS:
        raise UnetzooError(f"{where}: unknown normalization {record.get('normalize')!r}; re-export the model")
    if record["normalize"] == "dataset" and (record.get("mean") is None or record.get("std") is None):
        raise UnetzooError(f"{where}: 'dataset' normalization without statistics; re-export from a trained run")


def normalized(image: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """Normalize an ``HxWxC`` float32 image as the record says."""
    mode = record["normalize"]
    if mode == "none":
        return image
    if mode == "dataset":
        mean, std = np.float32(record["mean"]), np.float32(record["std"])
        return (image - mean) / np.maximum(std, _EPS)
    planes = np.ascontiguousarray(image.transpose(2, 0, 1))  # statistics on CxHxW, as the data package
    if mode == "nonzero":
        return zscore_nonzero(planes).transpose(1, 2, 0)
    if mode in ("zscore", "zscore_polarity"):
        mean, std = planes.mean(axis=(1, 2)), planes.std(axis=(1, 2))
        out = (image - mean) / np.maximum(std, _EPS)
        return -out if mode == "zscore_polarity" and negatively_skewed(image) else out
    lo, hi = planes.min(axis=(1, 2)), planes.max(axis=(1, 2))
    return (image - lo) / np.maximum(hi - lo, _EPS)


def preprocess(image: np.ndarray, record: Mapping[str, Any], source: str = "image") -> np.ndarray:
    """Raw ``HxW(xC)`` image -> ``CxHxW`` float32 model input, as ``Preprocess.from_dict(record)(image)``."""
    out = normalized(convert_channels(image, record.get("channels"), source), record)
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).transpose(2, 0, 1))
