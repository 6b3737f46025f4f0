"""Faults survived, nothing lost: a checkpoint write killed mid-write, NaN/inf gradients, a prediction killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.data.io import read_image, verify_image
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.config import TrainConfig
from unetzoo.engine.run_folder import prepare_run_dir
from unetzoo.engine.train import Trainer
from unetzoo.errors import UnetzooError

WRITER = """
import sys, torch
from unetzoo.engine.checkpoint import save_checkpoint
for i in range(10**6):
    save_checkpoint(sys.argv[1], {"epoch": i, "state_dict": {"w": torch.full((8 << 20,), float(i))}})
    print(i, flush=True)
"""
NUCLEI = Path(unetzoo.__file__).parent / "data" / "builtin" / "nuclei" / "images"


def _checkpoint_temps(folder: Path, name: str) -> set[Path]:
    """Temporary files of an in-progress write of ``name`` (not of its ``.sha256`` record)."""
    return {p for p in folder.glob(f".{name}.*.tmp") if not p.name.startswith(f".{name}.sha256.")}


def test_checkpoint_write_killed_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    """kill -9 a process while it writes a 32 MB checkpoint: the file in place stays whole, verified, loadable."""
    path = tmp_path / "last.pt"
    proof = None
    for _ in range(5):  # until a kill lands while a temporary file is being written
        before = _checkpoint_temps(tmp_path, path.name)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip().isdigit()  # >= 1 complete checkpoint
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (_checkpoint_temps(tmp_path, path.name) - before):
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        leftovers = _checkpoint_temps(tmp_path, path.name) - before
        if leftovers:
            proof = leftovers.pop()
            break
    assert proof is not None, "no kill landed during a write"
    payload = load_checkpoint(path)  # checks the sha256 record too
    w = payload["state_dict"]["w"]
    assert w.numel() == 8 << 20 and bool((w == payload["epoch"]).all())


FAST = {
    "model": "ulite",
    "data": "synthetic:nuclei?n=12&size=48",
    "batch_size": 4,
    "patch_size": (48, 48),
    "iters_per_epoch": 2,
    "progress": False,
}


def _trainer_with_poisoned_gradient(out: Path, poison_steps: set[int], value: float, **options: object) -> Trainer:
    """A real Trainer whose first parameter's gradient becomes ``value`` at the given (1-based) steps."""
    config, _ = prepare_run_dir(TrainConfig(**FAST, out=str(out), **options), {})
    trainer = Trainer(config)
    calls = {"n": 0}

    def poison(grad: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return torch.full_like(grad, value) if calls["n"] in poison_steps else grad

    next(trainer.model.parameters()).register_hook(poison)
    return trainer


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_gradient_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path, value: float) -> None:
    out = tmp_path / "run"
    trainer = _trainer_with_poisoned_gradient(out, {3}, value, epochs=3)  # step 3 = first step of epoch 2
    with pytest.raises(UnetzooError, match=rf"diverged: gradient norm is {value} \(loss [0-9.]+\) at epoch 2"):
        trainer.run()
    payload = load_checkpoint(out / "last.pt")
    assert payload["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in payload["state_dict"].values() if v.is_floating_point())


def test_non_finite_gradient_step_is_skipped_with_nan_policy_skip(tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer = _trainer_with_poisoned_gradient(out, {3}, float("nan"), epochs=2, nan_policy="skip")
    result = trainer.run()
    assert result.summary["epochs_completed"] == 2 and result.summary["skipped_steps"] == 1
    assert result.summary["global_steps"] == 3
    assert [row.get("skipped_steps") for row in json.loads((out / "log.json").read_text())] == [None, 1]
    state = load_checkpoint(out / "last.pt")["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_prediction_killed_half_way_reruns_with_skip_existing(tmp_path: Path, rgb_checkpoint: Path) -> None:
    """kill -9 `unetzoo predict` over 60 real images: no truncated output; the rerun skips what is done."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for image in sorted(NUCLEI.glob("*.png"))[:60]:
        shutil.copy(image, src / image.name)
    cmd = [sys.executable, "-m", "unetzoo", "predict", "--checkpoint", str(rgb_checkpoint), str(src), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*cmd, "--tta"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 5:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert 5 <= len(done) < 60, "the kill must land half way"
    for name in done:  # every visible output is a whole image of the input's size
        verify_image(out / name)
        assert read_image(out / name).shape == (256, 256)
    rerun = subprocess.run([*cmd, "--skip-existing"], capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{60 - len(done)} input(s) segmented" in rerun.stdout
    outputs = sorted(out.glob("*.png"))
    assert len(outputs) == 60
    assert all((out / name).stat().st_mtime_ns == stamp for name, stamp in done.items())  # skipped, untouched
    for path in outputs:
        verify_image(path)
