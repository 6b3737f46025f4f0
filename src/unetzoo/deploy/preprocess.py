"""The runtime's preprocessing (torch-free: :mod:`unetzoo.data` imports torch): the record saved in the checkpoint
and copied into the model card (``{"normalize", "channels", "mean", "std"}``), applied with the same functions as
:class:`unetzoo.data.Preprocess` (:mod:`unetzoo.utils.channels`, :mod:`unetzoo.utils.normalize`), so that ONNX
predictions see what training saw. ``tests/deploy/test_deploy_runtime.py`` checks bit-for-bit parity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from unetzoo.errors import UnetzooError
from unetzoo.utils.channels import convert_channels
from unetzoo.utils.normalize import NORMALIZATIONS, normalize_image

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


def preprocess(image: np.ndarray, record: Mapping[str, Any], source: str = "image") -> np.ndarray:
    """Raw ``HxW(xC)`` image -> ``CxHxW`` float32 model input, as ``Preprocess.from_dict(record)(image)``."""
    image = convert_channels(image, record.get("channels"), source)
    out = normalize_image(image, record["normalize"], record.get("mean"), record.get("std"))
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).transpose(2, 0, 1))
