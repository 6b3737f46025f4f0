"""One CLI training step for every preset of every registered model, with and without --deep-supervision:
each ends with exit status 0, or (deep supervision asked of a model without heads) one error line, never a
traceback. A preset that builds deep supervision (unet3p ds_cgm, unetpp pytorch-ds, unet_sharp ds_cgm) trains
with the deep-supervision loss by itself (issue #14, item 9)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.cli import main
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.models import get_entry

CASES = [(n, p) for n in unetzoo.list_models(include_hidden=True) for p in unetzoo.list_presets(n)]
DATA = "synthetic:nuclei?n=3&size=32"  # 2 training images + 1 validation image: one step of batch 2


def has_heads(name: str) -> bool:
    with torch.device("meta"):
        return type(unetzoo.create_model(name)).supports.deep_supervision


@pytest.mark.parametrize("deep_supervision", [False, True], ids=["", "deep-supervision"])
@pytest.mark.parametrize(("name", "preset"), CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_one_training_step(
    name: str, preset: str, deep_supervision: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--model", name, "--preset", preset, "--data", DATA, "--epochs", "1", "--batch-size", "2"]
    args += ["--patch-size", "32", "32", "--val-fraction", "0.34", "--no-progress", "--out", str(out)]
    try:
        status = main([*args, "--deep-supervision"] if deep_supervision else args)  # an exception fails the test
        err = capsys.readouterr().err
        if deep_supervision and not has_heads(name):
            assert status == 2 and err.startswith("unetzoo: error: ") and err.count("\n") == 1, err
            assert "has no deep-supervision heads" in err or "unexpected keyword argument 'deep_supervision'" in err
            return
        assert status == 0, err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["global_steps"] == 1 and summary["preset"] == preset and "val_dice" in summary["best_metrics"]
        model = model_from_checkpoint(load_checkpoint(out / "best.pt"))
        wanted = deep_supervision or bool(get_entry(name).preset_kwargs(preset).get("deep_supervision"))
        assert model.deep_supervision == wanted  # trained on its side outputs, by the flag or by the preset
    finally:
        shutil.rmtree(out, ignore_errors=True)  # the 31M-parameter nets leave ~1 GB of checkpoints
