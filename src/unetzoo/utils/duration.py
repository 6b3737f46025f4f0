"""Parse human wall-clock budgets such as ``90s``, ``10m``, ``1.5h`` or ``1h30m``."""

from __future__ import annotations

import re

from unetzoo.errors import UnetzooError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smh])")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``; a bare number means seconds. Raises UnetzooError on nonsense or <= 0."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = text.strip().lower()
        try:
            seconds = float(s)
        except ValueError:
            parts = _PART.findall(s)
            if not parts or "".join(n + u for n, u in parts) != s:
                raise UnetzooError(
                    f"budget {text!r} is not a duration; write e.g. 90s, 10m, 1.5h or 1h30m", exit_code=2
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UnetzooError(f"budget {text!r} must be positive", exit_code=2)
    return seconds
