"""Package attributes imported on first use (PEP 562), so importing a package does not import its heavy parts.

>>> __getattr__ = lazy_attributes(__name__, {"open_source": "unetzoo.data.formats"})  # in a package __init__

A value ``"module:attr"`` names the attribute in the module when it differs from the package's name for it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` on first access and caches it."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = names[name].partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
