"""A run whose output goes to a file logs one line per epoch: no progress-bar frames (issue #14, item 8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_redirected_run_logs_one_line_per_epoch(tmp_path: Path) -> None:
    out, log = tmp_path / "run", tmp_path / "train.log"
    args = ["train", "--model", "ulite", "--data", "synthetic:nuclei?n=12&size=32", "--epochs", "3"]
    args += ["--batch-size", "2", "--patch-size", "32", "32", "--threads", "1", "--out", str(out)]
    with log.open("wb") as fh:  # stdout and stderr to one file, as `make demo > log 2>&1` does
        done = subprocess.run(
            [sys.executable, "-m", "unetzoo", *args], stdout=fh, stderr=subprocess.STDOUT, timeout=300
        )
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text  # no carriage-return frames, no cursor moves
    first, *epochs, last = text.splitlines()
    assert first.startswith("plan: ") and "patch 32x32, batch 2 for 3 epochs (" in first  # the plan, one line
    assert [json.loads(line)["epoch"] for line in epochs] == [1, 2, 3]  # 5 steps per epoch, one line each
    assert last.startswith("run folder: ")
