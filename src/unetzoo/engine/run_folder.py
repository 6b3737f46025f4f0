"""The run folder: refused when it holds a finished run or cannot be created, resumed from its ``last.pt``,
created only once the data and the plan are known good (bad input leaves no empty folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.config import TrainConfig
from unetzoo.errors import UnetzooError

RESUMABLE_OVERRIDES = ("epochs", "budget", "early_stopping", "progress", "num_workers", "val_every", "device")
"""Options a resumed run takes from the command line; every other option is the stored run's."""


def prepare_run_dir(config: TrainConfig, overrides: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any] | None]:
    """Resolve the run folder: refuse to overwrite a finished run; on resume return the stored state."""
    out = Path(config.out)
    last = out / "last.pt"
    if config.resume:
        payload = load_checkpoint(last) if last.exists() else None
        if payload is None:
            raise UnetzooError(f"{out}: nothing to resume (no last.pt); start without --resume")
        stored = dict(payload["config"])
        stored.update({k: v for k, v in overrides.items() if k in RESUMABLE_OVERRIDES and v is not None})
        # A run folder may have been moved; the device is this session's, not the run's.
        stored.update(resume=True, out=str(out), device=config.device)
        return TrainConfig(**stored), payload
    if last.exists():
        raise UnetzooError(f"{out}: already holds a run (last.pt); pass --resume to continue it or choose a new --out")
    check_creatable(out)
    return config, None


def check_creatable(out: Path) -> None:
    """Refuse an ``--out`` that cannot be created, before the data is opened (nothing is created yet)."""
    ancestor = out
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        reason = "not a folder" if not ancestor.is_dir() else "not writable"
        raise UnetzooError(f"{out}: cannot create the run folder ({ancestor} is {reason}); choose a writable --out")


def make_run_dir(out: Path) -> None:
    """Create the run folder once the data and the plan are known good, so bad input leaves no empty folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnetzooError(f"{out}: cannot create the run folder ({exc.strerror}); choose a writable --out") from exc
