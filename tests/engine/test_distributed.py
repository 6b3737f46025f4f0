"""Data-parallel training: 2 CPU processes (torchrun, gloo on 127.0.0.1) against 1 process, on real ISBI slices.

Tolerance: with the same global batch (4 = 2 ranks x 2), every weight of the 2-process run is within
``WEIGHT_ATOL`` = 1e-5 of the single-process run's (measured: 1.5e-6 after 6 SGD steps), the logged losses within
a relative 1e-6. The differences are float summation order (gradient all-reduce, synchronized batch norm).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unetzoo.cli import main
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.config import TrainConfig
from unetzoo.engine.distributed import DistContext
from unetzoo.engine.sampling import EpochSampler
from unetzoo.engine.train import Trainer
from unetzoo.errors import UnetzooError

WEIGHT_ATOL = 1e-5
LOSS_RTOL = 1e-6
FLAGS = [
    "--model", "ulite", "--batch-size", "4", "--patch-size", "64", "64", "--iters-per-epoch", "3",
    "--optimizer", "sgd", "--lr", "0.05", "--val-fraction", "0.2", "--no-progress", "--no-amp",
]  # fmt: skip
"""fp32 (``--no-amp``): the equivalence is exact up to summation order only in full precision."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node=2 -m unetzoo train ...`` rendezvousing on 127.0.0.1."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "unetzoo", "train", *argv,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, "\n".join(line for line in proc.stderr.splitlines() if "Warning" not in line)[-4000:]
    return proc


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.pt")["state_dict"]


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 2-epoch run on ISBI 2012, once with 1 process and once with 2 (same global batch)."""
    root = tmp_path_factory.mktemp("ddp")
    data = ["--data", str(shared_data / "isbi2012"), "--epochs", "2"]
    ddp = _torchrun([*FLAGS, *data, "--out", str(root / "ddp")])
    assert main(["train", *FLAGS, *data, "--out", str(root / "single")]) == 0
    assert ddp.stdout.count("run folder:") == 1, ddp.stdout  # rank 0 alone reports
    return {"single": root / "single", "ddp": root / "ddp"}


def test_two_processes_match_one_process_with_the_same_global_batch(runs: dict[str, Path]) -> None:
    diff = _max_diff(_weights(runs["single"]), _weights(runs["ddp"]))
    print(f"max |w_2proc - w_1proc| = {diff:.3g}")
    assert diff <= WEIGHT_ATOL
    single, ddp = (json.loads((runs[k] / "log.json").read_text()) for k in ("single", "ddp"))
    assert len(ddp) == len(single) == 2  # one row per epoch: only rank 0 logs
    for a, b in zip(single, ddp, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=LOSS_RTOL)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
        assert b["val_dice"] == pytest.approx(a["val_dice"], abs=1e-4)
    summary = json.loads((runs["ddp"] / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["n_val"] == 6
    assert summary["sha256"]["last.pt"] and (runs["ddp"] / "last.pt.sha256").is_file()


def test_distributed_checkpoint_resumes_single_process(runs: dict[str, Path], tmp_path: Path) -> None:
    for name in ("single", "ddp"):
        copy = tmp_path / name
        shutil.copytree(runs[name], copy)
        assert main(["train", "--out", str(copy), "--resume", "--epochs", "3", "--no-progress"]) == 0
        assert load_checkpoint(copy / "last.pt")["epoch"] == 3
    assert _max_diff(_weights(tmp_path / "single"), _weights(tmp_path / "ddp")) <= WEIGHT_ATOL


def test_budget_is_agreed_and_no_rank_hangs(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "budget"
    data = ["--data", str(shared_data / "isbi2012"), "--iters-per-epoch", "1000", "--epochs", "1000"]
    _torchrun([*FLAGS, *data, "--budget", "3s", "--out", str(out)], timeout=240)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "budget" and summary["epochs_completed"] == 1


def test_sharded_sampler_rebuilds_the_single_process_batches() -> None:
    batch, world = 6, 3
    single = list(EpochSampler(10, 24, seed=7))
    shards = [list(EpochSampler(10, 24, seed=7, rank=r, world_size=world)) for r in range(world)]
    local = batch // world
    for k in range(len(single) // batch):
        together = sorted(i for shard in shards for i in shard[k * local : (k + 1) * local])
        assert together == sorted(single[k * batch : (k + 1) * batch])


def test_global_batch_must_split_evenly_over_the_ranks() -> None:
    config = TrainConfig(data="synthetic:nuclei?n=8&size=32", batch_size=3, progress=False)
    with pytest.raises(UnetzooError, match="multiple of 2") as info:
        Trainer(config, DistContext(rank=0, world_size=2))
    assert info.value.exit_code == 2
