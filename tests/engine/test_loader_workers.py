"""``--num-workers``: loading in persistent worker processes trains exactly as loading in the trainer's process."""

from __future__ import annotations

from pathlib import Path

import torch

from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.train import train

TINY = {"model": "ulite", "data": "synthetic:nuclei?n=8&size=48", "batch_size": 2, "patch_size": (48, 48)}


def test_a_worker_trains_exactly_as_the_main_process(tmp_path: Path) -> None:
    """Two epochs (the persistent worker must follow the epoch's augmentation stream): the same weights."""
    states = {}
    for workers in (0, 1):
        out = tmp_path / f"w{workers}"
        train(**TINY, epochs=2, iters_per_epoch=2, num_workers=workers, amp=False, out=str(out), progress=False)
        states[workers] = load_checkpoint(out / "last.pt")["state_dict"]
    for name, value in states[0].items():
        torch.testing.assert_close(states[1][name], value, rtol=0, atol=0, msg=name)
