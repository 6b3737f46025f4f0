"""Mixed precision by default where the CPU has native bf16 (issue 17), and ``--amp/--no-amp`` to choose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unetzoo import planning
from unetzoo.bench import latency
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.distributed import native_bf16, resolve_amp
from unetzoo.engine.train import train
from unetzoo.planning import make_plan
from unetzoo.planning.cost import step_seconds_at

TINY = {"model": "ulite", "data": "synthetic:nuclei?n=8&size=48", "batch_size": 2, "patch_size": (48, 48)}


@pytest.mark.parametrize("bf16, amx", [(True, False), (False, True), (False, False)])
def test_native_bf16_follows_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, bf16: bool, amx: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert native_bf16(torch.device("cpu")) is (bf16 or amx)
    assert resolve_amp(None, torch.device("cpu")) is (bf16 or amx)
    assert native_bf16(torch.device("cuda")) is False  # left to the user on a GPU
    assert resolve_amp(True, torch.device("cpu")) is True and resolve_amp(False, torch.device("cpu")) is False


@pytest.mark.parametrize("amp", [None, True, False])
def test_the_run_records_the_precision_it_trained_in(tmp_path: Path, amp: bool | None) -> None:
    out = tmp_path / "run"
    train(**TINY, epochs=1, iters_per_epoch=2, amp=amp, out=str(out), progress=False)
    stored = load_checkpoint(out / "last.pt")["config"]["amp"]
    assert stored is (native_bf16(torch.device("cpu")) if amp is None else amp)


def test_the_planner_times_steps_in_the_precision_of_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``make_plan(amp=True)`` puts amp in the network spec; the step is then timed in bf16 and cached apart."""
    monkeypatch.setenv("UNETZOO_CACHE_DIR", str(tmp_path))
    specs: list[dict] = []
    real_cost = planning.model_cost
    monkeypatch.setattr(planning, "model_cost", lambda spec, *a, **k: specs.append(spec) or real_cost(spec, *a, **k))
    timed: list[bool] = []
    real_step = latency.train_step
    monkeypatch.setattr(latency, "train_step", lambda m, b, **k: timed.append(k["amp"]) or real_step(m, b, **k))
    for amp in (False, True):
        make_plan("synthetic:nuclei?n=8&size=48", "ulite", budget="1m", threads=1, amp=amp)
    assert [spec.get("amp", False) for spec in specs] == [False, True]
    assert timed and set(timed) == {False, True}
    spec = {"name": "ulite", "preset": None, "kwargs": {}, "in_channels": 3, "classes": 1}
    before = set((tmp_path / "steps").glob("*.json"))
    step_seconds_at(spec, 1, 2, (32, 32))
    step_seconds_at({**spec, "amp": True}, 1, 2, (32, 32))
    assert len(set((tmp_path / "steps").glob("*.json")) - before) == 2
