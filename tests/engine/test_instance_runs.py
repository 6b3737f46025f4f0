"""``--task instances``: real training steps of an instance head, its post-processing tuned and stored, and
``unetzoo eval --instances`` on instance and semantic checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unetzoo.cli import main
from unetzoo.data.io import write_image
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.train import train
from unetzoo.errors import UnetzooError
from unetzoo.instances import HEADS
from unetzoo.metrics.instances import INSTANCE_KEYS

TINY = "synthetic:nuclei?n=12&size=48"
FAST = {"model": "ulite", "data": TINY, "batch_size": 4, "patch_size": (48, 48), "progress": False, "epochs": 2}


@pytest.fixture(scope="module", params=sorted(HEADS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("instances") / request.param
    train(**FAST, task="instances", head=request.param, out=str(out))
    return request.param, out


def test_checkpoint_keeps_head_and_tuned_post_processing(run: tuple[str, Path]) -> None:
    head, out = run
    payload = load_checkpoint(out / "best.pt")
    record = payload["instances"]
    assert record["head"] == head and payload["model"]["classes"] == HEADS[head].classes
    assert set(record["decoding"]) == {"foreground", "seed", "min_area"} and 0.0 <= record["val_map"] <= 1.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["instances"]["decoding"] == record["decoding"]
    logged = json.loads((out / "log.json").read_text())[-1]
    assert {"val_dice", "val_map", "val_ap50", "val_aji"} <= logged.keys() and "val_ap95" not in logged


def test_eval_json_has_the_instance_and_semantic_keys(run: tuple[str, Path], capsys: pytest.CaptureFixture) -> None:
    _, out = run
    assert main(["eval", "--checkpoint", str(out / "best.pt"), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(INSTANCE_KEYS) <= scores.keys() and {"dice", "iou"} <= scores.keys()
    split = load_checkpoint(out / "best.pt")["split"]["val"]
    assert scores["n_images"] == len(split) > 0 and scores["n_true"] > 0
    stored = load_checkpoint(out / "best.pt")["instances"]["val_map"]
    assert scores["map"] == pytest.approx(stored)  # the tuned parameters are the ones eval applies


def test_semantic_checkpoint_scores_its_connected_components(tmp_path: Path) -> None:
    train(**FAST, out=str(tmp_path / "sem"))
    result = evaluate(tmp_path / "sem" / "best.pt", instances=True)
    assert set(INSTANCE_KEYS) <= result.aggregate.keys()
    assert result.aggregate["n_pred"] >= 0 and "dice" in result.aggregate


def test_data_without_instances_is_one_line(tmp_path: Path) -> None:
    for sub in ("images", "masks"):
        (tmp_path / "d" / sub).mkdir(parents=True)
    mask = (np.arange(32 * 32).reshape(32, 32) % 7 == 0).astype(np.uint8) * 255
    for k in range(4):
        write_image(tmp_path / "d" / "images" / f"{k}.png", np.full((32, 32), 40 * k, np.uint8))
        write_image(tmp_path / "d" / "masks" / f"{k}.png", mask)
    options = {**FAST, "data": str(tmp_path / "d"), "task": "instances", "out": str(tmp_path / "r")}
    with pytest.raises(UnetzooError, match=r"--task instances needs an instance label image .* beside images/"):
        train(**options)
