"""Data loading beside the training step (issue 17): one worker by default on 2+ cores, same batches either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.sampling import loader_workers
from unetzoo.engine.train import train

TINY = {"model": "ulite", "data": "synthetic:nuclei?n=8&size=48", "batch_size": 2, "patch_size": (48, 48)}


def test_default_workers_follow_the_cores_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert loader_workers(None) == 1 and loader_workers(3) == 3 and loader_workers(0) == 0
    assert loader_workers(None, world_size=2) == 0  # one core per rank: loading stays in the trainer
    assert loader_workers(None, volumes=True) == 0
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert loader_workers(None) == 0


def test_a_worker_trains_exactly_as_the_main_process(tmp_path: Path) -> None:
    """Two epochs (the persistent worker must follow the epoch's augmentation stream) with and without a worker:
    the same weights, and the checkpoint records how many workers ran."""
    states = {}
    for workers in (0, 1):
        out = tmp_path / f"w{workers}"
        train(**TINY, epochs=2, iters_per_epoch=2, num_workers=workers, amp=False, out=str(out), progress=False)
        payload = load_checkpoint(out / "last.pt")
        assert payload["config"]["num_workers"] == workers
        states[workers] = payload["state_dict"]
    for name, value in states[0].items():
        torch.testing.assert_close(states[1][name], value, rtol=0, atol=0, msg=name)
