"""The table behind ``unetzoo models``: one row per registered model (default preset)."""

from __future__ import annotations

from typing import Any

from unetzoo.bench.profile import profile
from unetzoo.models import create_model, get_entry, list_models


def zoo_table(
    *, size: tuple[int, int] = (256, 256), in_channels: int = 3, classes: int = 1, pattern: str | None = None
) -> list[dict[str, Any]]:
    """Params and GMACs of every registered model at ``in_channels x H x W`` (batch 1)."""
    rows = []
    for name in list_models(pattern):
        entry = get_entry(name)
        model = create_model(name, in_channels=in_channels, classes=classes)
        prof = profile(model, (1, in_channels, *size), memory=False)
        rows.append(
            {
                "name": name,
                "preset": entry.default_preset,
                "presets": sorted(entry.presets),
                "params": prof.params,
                "gmacs": round(prof.gmacs, 4),
                "input": [in_channels, *size],
                "paper": entry.paper,
                "supports": type(model).supports.as_dict(),
            }
        )
    return rows
