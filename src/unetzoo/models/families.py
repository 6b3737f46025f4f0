"""Imports every model family module so that each registers itself. Add new families here."""

import importlib

FAMILIES = (
    "unet",
    "unetpp",
    "unet3p",
    "unet_sharp",
    "attention_unet",
    "fcn8s",
    "resnet34_unet",
    "sd_unet",
    "pyconv_unet",
    "ulite",
    "peers",
)

for _family in FAMILIES:
    importlib.import_module(f"unetzoo.models.{_family}")
