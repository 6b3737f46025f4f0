"""``unetzoo data check|convert``: summary, one line per problem, exit status, --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datagen import MakeFolder, save

from unetzoo.cli import main


def test_check_text_and_json(make_folder: MakeFolder, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(n=3)
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    for expected in ("format: folder, 3 samples", "sizes (HxW): 32x32: 3", "2 classes: 0 -> background", "result: ok"):
        assert expected in out
    (root / "masks" / "img2.png").unlink()
    save(root / "masks" / "orphan_mask.png", np.zeros((32, 32), np.uint8))
    assert main(["data", "check", str(root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["errors"] == 1 and report["warnings"] == 1
    assert report["problems"][0]["file"].endswith("img2.png") and report["summary"]["samples"] == 2


def test_check_synthetic_and_unknown_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", "synthetic:membranes?n=2&size=64"]) == 0
    assert "0 -> membrane, 1 -> cell" in capsys.readouterr().out
    assert main(["data", "check", "builtin:nothing"]) == 1
    assert "error: builtin:nothing: unknown builtin dataset; choose one of nuclei" in capsys.readouterr().out


def test_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "convert", "synthetic:nuclei?n=2&size=32", str(tmp_path), "--id", "510", "--name", "N"]) == 0
    assert "wrote 2 cases to" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "Dataset510_N")]) == 0
    assert "format: nnunet, 2 samples" in capsys.readouterr().out
