"""Building blocks shared by the models. Knows nothing of models, data or files."""

from unetzoo.layers.conv import (
    ConvNormAct,
    DoubleConv,
    batch_norm,
    group_norm,
    no_norm,
    norm_factory,
    upsample_like,
)
from unetzoo.layers.padding import center_crop_to, crop, mirror_pad, pad_to_multiple

__all__ = [
    "ConvNormAct",
    "DoubleConv",
    "batch_norm",
    "center_crop_to",
    "crop",
    "group_norm",
    "mirror_pad",
    "no_norm",
    "norm_factory",
    "pad_to_multiple",
    "upsample_like",
]
