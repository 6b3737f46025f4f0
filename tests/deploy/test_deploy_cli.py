"""``unetzoo export`` and ``unetzoo predict --model FILE.onnx`` from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deploy_ckpt import MakeCheckpoint
from PIL import Image

from unetzoo.cli import main


def test_export_then_predict(make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ckpt = make_checkpoint("unet_sharp", level=1, in_channels=1)
    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert "model card" in capsys.readouterr().out and out.with_name("m.onnx.json").is_file()
    image = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((30, 40)) * 255).astype(np.uint8)).save(image)
    assert main(["predict", str(image), "--model", str(out), "--out", str(tmp_path / "pred"), "--tta"]) == 0
    assert len(list((tmp_path / "pred").iterdir())) == 1
    out.write_bytes(out.read_bytes()[:-100])
    assert main(["predict", str(image), "--model", str(out), "--out", str(tmp_path / "p2")]) == 1
    assert "does not match its model card" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--int8"], "needs --calibration"),
        (["--format", "torchscript", "--int8", "--calibration", "x"], "needs --format onnx"),
        (["--prune-level", "1"], "no pruning levels"),
    ],
)
def test_export_usage_errors_exit_2(
    extra: list[str], message: str, make_checkpoint: MakeCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ckpt = make_checkpoint("ulite", in_channels=3)
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.onnx"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_export_bad_checkpoint_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["export", "--checkpoint", str(bad), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "bad.pt: " in capsys.readouterr().err  # the checkpoint loader's one-line message
