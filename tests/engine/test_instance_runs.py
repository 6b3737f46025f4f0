"""``--task instances``: real training steps of an instance head, its post-processing tuned and stored, and
``unetzoo eval --instances`` on instance and semantic checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unetzoo.cli import main
from unetzoo.data.io import read_image, write_image
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
    assert (
        set(record["decoding"]) == {"foreground", "seed", "min_area", "h", "zoom"} and 0.0 <= record["val_map"] <= 1.0
    )
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
    with pytest.raises(UnetzooError, match=r"--task instances needs an instance label image .* beside images/") as err:
        train(**options)
    assert f"unetzoo data instances {tmp_path / 'd'}" in str(err.value) and "\n" not in str(err.value)
    stray = mask.copy()
    stray[0, :4] = 100  # a third value: the error names this mask, not missing instance labels
    write_image(tmp_path / "d" / "masks" / "3.png", stray)
    with pytest.raises(UnetzooError, match=r"3\.png: .*stray values"):
        train(**options)


def test_masks_holding_one_id_per_object_train_an_instance_model(tmp_path: Path) -> None:
    """StarDist and Cellpose keep training data as images/ + masks/ whose masks hold one id per object: --task
    instances trains on those ids without an instances/ folder, and eval counts every one of them."""
    from unetzoo.data import open_source

    source, root = open_source(TINY), tmp_path / "stardist"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(len(source)):
        write_image(root / "images" / f"{i}.png", np.clip(source.load(i)[0], 0, 255).astype(np.uint8))
        write_image(root / "masks" / f"{i}.tif", source.read_instances(i).astype(np.uint16))
    out = tmp_path / "r"
    train(**{**FAST, "data": str(root), "epochs": 1}, task="instances", out=str(out))
    val = load_checkpoint(out / "best.pt")["split"]["val"]
    scores = evaluate(out / "best.pt").aggregate
    assert scores["n_images"] == len(val) and scores["n_true"] == sum(
        int(source.read_instances(int(sid)).max()) for sid in val
    )


def test_predict_instances_writes_labels_table_rois_and_outlines(run: tuple[str, Path], tmp_path: Path) -> None:
    from roifile import roiread

    from unetzoo.data import open_source

    _, out = run
    source = open_source(TINY)
    image = np.clip(source.load(0)[0], 0, 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", image)
    args = ["predict", str(tmp_path / "in"), "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path / "o")]
    assert main([*args, "--instances", "--rois", "--overlay"]) == 0
    labels = read_image(tmp_path / "o" / "a.png")
    assert labels.dtype == np.uint16 and labels.shape == image.shape[:2]
    table = (tmp_path / "o" / "a_objects.csv").read_text().splitlines()
    assert table[0].startswith("label,area,centroid_y,centroid_x,bbox_top") and len(table) - 1 == len(
        np.unique(labels[labels > 0])
    )
    assert len(roiread(tmp_path / "o" / "a_rois.zip") or []) == len(table) - 1
    assert read_image(tmp_path / "o" / "a_overlay.png").shape == (*image.shape[:2], 3)
    before = (tmp_path / "o" / "a_objects.csv").stat().st_mtime_ns
    assert main([*args, "--instances"]) == 1  # nothing replaced without --overwrite
    assert (tmp_path / "o" / "a_objects.csv").stat().st_mtime_ns == before


def test_exported_model_decodes_the_same_objects(run: tuple[str, Path], tmp_path: Path) -> None:
    """The model card carries the head and its post-processing: ONNX Runtime finds the torch engine's objects."""
    from unetzoo.data import open_source

    head, out = run
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", np.clip(open_source(TINY).load(1)[0], 0, 255).astype(np.uint8))
    assert main(["export", "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path / "m.onnx")]) == 0
    assert json.loads((tmp_path / "m.onnx.json").read_text())["instances"]["head"] == head
    common = [str(tmp_path / "in"), "--instances"]
    assert main(["predict", *common, "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path / "t")]) == 0
    assert main(["predict", *common, "--model", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "x")]) == 0
    torch_labels, onnx_labels = read_image(tmp_path / "t" / "a.png"), read_image(tmp_path / "x" / "a.png")
    assert (torch_labels > 0).mean() == pytest.approx((onnx_labels > 0).mean(), abs=0.01)
    assert abs(int(torch_labels.max()) - int(onnx_labels.max())) <= 1


def test_dsb2018_instance_run_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    """Real DSB 2018 images and instance labels (12 train / 4 validation, seeded): training steps of the boundary
    head through the real loader, the post-processing tuned on the validation images, eval and predict."""
    from unetzoo.data import open_source

    data = str(shared_data / "dsb2018")
    ids = open_source(data).ids
    rng = np.random.default_rng(0)
    chosen = [ids[k] for k in rng.choice(len(ids), 16, replace=False)]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": chosen[:12], "val": chosen[12:], "test": []}))
    out = tmp_path / "run"
    options = {"model": "ulite", "data": data, "task": "instances", "split_file": str(split), "progress": False}
    train(**options, epochs=1, iters_per_epoch=3, batch_size=2, patch_size=(128, 128), out=str(out))
    record = load_checkpoint(out / "best.pt")["instances"]
    assert record["head"] == "distance" and 0.0 <= record["val_map"] <= 1.0
    scores = evaluate(out / "best.pt").aggregate
    assert set(INSTANCE_KEYS) <= scores.keys() and scores["n_images"] == 4
    assert scores["n_true"] == sum(int(open_source(data).read_instances(ids.index(s)).max()) for s in chosen[12:])
    image = shared_data / "dsb2018" / "images" / f"{chosen[12]}.png"
    predict = ["predict", str(image), "--checkpoint", str(out / "best.pt"), "--instances", "--out", str(tmp_path / "p")]
    assert main(predict) == 0
    assert read_image(tmp_path / "p" / image.name).shape == read_image(image).shape[:2]


def test_rois_without_instances_is_a_usage_error(run: tuple[str, Path], tmp_path: Path) -> None:
    _, out = run
    args = ["predict", str(tmp_path), "--checkpoint", str(out / "best.pt"), "--out", str(tmp_path / "o"), "--rois"]
    assert main(args) == 2 and not (tmp_path / "o").exists()  # refused before anything is read or written


def test_more_objects_than_uint16_holds_is_one_line() -> None:
    """A label image is written as uint16: 70,000 objects in one image is an error naming it, not a wrap-around."""
    from unetzoo.engine.predict import _object_labels

    labels = np.arange(70_000, dtype=np.int32).reshape(280, 250) + 1
    with pytest.raises(UnetzooError, match=r"big\.png: 70000 objects do not fit a uint16 label image"):
        _object_labels(labels, "big.png")
    assert _object_labels(labels[:200], "ok.png").dtype == np.uint16


def test_validation_predicts_with_the_planned_tile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training's validations tile images as the checkpoint will (the plan's tile), not by a default of their own."""
    import unetzoo.engine.train as engine_train

    tiles: list[tuple[int, int]] = []
    original = engine_train.Segmenter

    def recording(*args: object, **kwargs: object) -> object:
        segmenter = original(*args, **kwargs)  # type: ignore[arg-type]
        tiles.append(segmenter.tile)
        return segmenter

    monkeypatch.setattr(engine_train, "Segmenter", recording)
    out = tmp_path / "r"
    train(**{**FAST, "epochs": 1}, task="instances", out=str(out))
    planned = tuple(load_checkpoint(out / "best.pt")["inference"]["tile"])
    assert tiles and set(tiles) == {planned} and planned != (512, 512)
