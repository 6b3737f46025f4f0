"""Where unetzoo keeps what it measured once (dataset fingerprints, model cost calibrations).

``$UNETZOO_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/unetzoo``, else ``~/.cache/unetzoo``. Entries are small
JSON files written atomically; deleting the folder only costs a re-measurement.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it); not created until something is written into it."""
    root = os.environ.get("UNETZOO_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "unetzoo")
    return Path(root).joinpath(*parts)
