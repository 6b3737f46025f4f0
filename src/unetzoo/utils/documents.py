"""The package's own JSON documents (model cards, the pretrained registry): read, recognised by their ``format``
marker and refused when a newer unetzoo wrote them, each failure one line naming the file and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unetzoo.errors import UnetzooError


def read_document(path: Path, *, fmt: str, version: int, what: str, fix: str) -> dict[str, Any]:
    """The JSON object in ``path`` whose ``format`` is ``fmt`` and whose ``version`` is at most ``version``.

    Raises:
        UnetzooError: ``"<path>: unreadable <what> (...); <fix>"``, ``"<path>: not a unetzoo <what>; <fix>"`` or
            ``"<path>: written by a newer unetzoo (<what> version N); upgrade unetzoo"``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnetzooError(f"{path}: unreadable {what} ({exc}); {fix}") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise UnetzooError(f"{path}: not a unetzoo {what}; {fix}")
    if data.get("version", 0) > version:
        raise UnetzooError(f"{path}: written by a newer unetzoo ({what} version {data['version']}); upgrade unetzoo")
    return data
