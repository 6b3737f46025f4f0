"""``unetzoo compare``: one protocol for every model, resumable, tables/plots/report, UNet# pruning levels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from unetzoo.bench.compare import CompareConfig, evaluate_run, run_compare, write_tables
from unetzoo.cli import main
from unetzoo.report.compare_report import markdown_table, pareto_front

TINY = "synthetic:membranes?n=10&size=48"


def _config(out: Path, models: list[str], **kw: object) -> CompareConfig:
    base = {"budget": "3s", "patch_size": (48, 48), "size": (48, 48), "batch_size": 2, "latency_runs": 3}
    return CompareConfig(models=models, data=TINY, out=str(out), **{**base, **kw})  # type: ignore[arg-type]


def test_compare_writes_tables_and_is_resumable(tmp_path: Path) -> None:
    config = _config(tmp_path, ["ulite", "unet:unetsharp-paper"], em=True)
    rows = run_compare(config)
    write_tables(rows, tmp_path)
    for name in (
        "table.md",
        "table.csv",
        "table.json",
        "report.html",
        "dice_vs_params.png",
        "dice_vs_latency.png",
        "dice_over_time.png",
    ):
        assert (tmp_path / name).is_file(), name
    table = json.loads((tmp_path / "table.json").read_text())
    assert [r["model"] for r in table] == ["ulite", "unet:unetsharp-paper"]
    for key in (
        "params",
        "gmacs",
        "latency_ms",
        "epochs",
        "dice",
        "iou",
        "miou",
        "accuracy",
        "hd95",
        "v_rand",
        "v_info",
    ):
        assert table[0][key] is not None, key
    assert table[0]["params"] == 876_849  # ulite at 1 input channel (gray synthetic membranes)
    # Both runs shared one split: the same validation images.
    splits = [json.loads(p.read_text())["val"] for p in sorted(tmp_path.glob("runs/*/fold0/split.json"))]
    assert len(splits) == 2 and splits[0] == splits[1]
    # A rerun trains nothing and evaluates nothing: the finished runs and their evaluations are kept.
    stamp = (tmp_path / "runs" / "ulite" / "fold0" / "best.pt").stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("unetzoo.bench.compare.evaluate_run", _must_not_run)
        again = run_compare(config)
    assert (tmp_path / "runs" / "ulite" / "fold0" / "best.pt").stat().st_mtime_ns == stamp
    assert again == rows
    # Another protocol setting (here: no EM scores) is evaluated afresh.
    assert run_compare(_config(tmp_path, ["ulite"], em=False))[0]["v_rand"] is None


def test_scores_are_the_training_validation_of_the_best_checkpoint(tmp_path: Path) -> None:
    config = _config(tmp_path, ["ulite"], budget="4s")
    row = run_compare(config)[0]
    run = tmp_path / "runs" / "ulite" / "fold0"
    fresh = evaluate_run(replace(config, em=True), run)  # EM scores are not in the training's validation
    for key in ("dice", "iou", "miou", "accuracy", "hd95"):
        assert row[key] == pytest.approx(fresh[key], rel=1e-3), key
    summary = json.loads((run / "summary.json").read_text())
    assert row["steps"] == summary["global_steps"] >= 1 and row["batch_size"] == 2
    header = markdown_table([row]).splitlines()[0]
    assert "| batch_size | epochs | steps |" in header


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("a finished run was evaluated again")


def test_a_killed_compare_continues_the_unfinished_run(tmp_path: Path) -> None:
    config = _config(tmp_path, ["ulite"])
    run_compare(config)
    run = tmp_path / "runs" / "ulite" / "fold0"
    (run / "summary.json").unlink()  # as if killed after the last checkpoint
    rows = run_compare(config)
    assert (run / "summary.json").is_file() and rows[0]["dice"] is not None


def test_folds_give_mean_and_std(tmp_path: Path) -> None:
    rows = run_compare(_config(tmp_path, ["ulite"], folds=2, budget="2s"))
    assert rows[0]["folds"] == 2 and rows[0]["dice_std"] is not None
    assert sorted(p.name for p in (tmp_path / "runs" / "ulite").iterdir()) == ["fold0", "fold1"]


def test_unet_sharp_prune_levels(tmp_path: Path) -> None:
    rows = run_compare(_config(tmp_path, ["unet_sharp"], prune_levels=[1, 2], budget="4s"))
    assert [r["model"] for r in rows] == ["unet_sharp", "unet_sharp L1", "unet_sharp L2"]
    assert rows[1]["params"] < rows[2]["params"] < rows[0]["params"]
    assert all(r["dice"] is not None for r in rows)


def test_pareto_front() -> None:
    rows = [
        {"model": "a", "dice": 0.9, "params": 10},
        {"model": "b", "dice": 0.8, "params": 20},
        {"model": "c", "dice": 0.95, "params": 30},
        {"model": "d", "dice": 0.7, "params": 5},
    ]
    assert pareto_front(rows, "params") == {"a", "c", "d"}


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--models", "ulite,nope", "--data", TINY, "--out", str(tmp_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["compare", "--models", "ulite", "--prune-levels", "1", "--data", TINY, "--out", str(tmp_path)]) == 2


def test_monai_peers_train_through_the_same_engine(tmp_path: Path) -> None:
    pytest.importorskip("monai")
    rows = run_compare(_config(tmp_path, ["monai_unet"], budget="2s"))
    assert rows[0]["model"] == "monai_unet" and rows[0]["dice"] is not None


def test_compare_on_real_isbi(shared_data: Path, tmp_path: Path) -> None:
    config = CompareConfig(
        models=["ulite", "sd_unet"],
        data=str(shared_data / "isbi2012"),
        out=str(tmp_path),
        budget="6s",
        patch_size=(128, 128),
        batch_size=2,
        em=True,
        latency_runs=3,
    )
    rows = run_compare(config)
    write_tables(rows, tmp_path)
    assert [r["model"] for r in rows] == ["ulite", "sd_unet"]
    assert all(r["v_rand"] is not None and r["dice"] is not None for r in rows)
    assert "| sd_unet |" in (tmp_path / "table.md").read_text()


def test_instance_compare_has_the_object_columns(tmp_path: Path) -> None:
    """``--task instances``: every model trains the same head; the table gains map, ap50, f1_50 and aji, scored
    with each run's tuned post-processing (the same numbers as ``unetzoo eval``)."""
    from unetzoo.engine.evaluate import evaluate

    nuclei = "synthetic:nuclei?n=10&size=48"
    config = replace(_config(tmp_path, ["ulite"], task="instances", head="distance"), data=nuclei)
    rows = run_compare(config)
    table = markdown_table(rows)
    header = table.splitlines()[0]
    assert all(column in header for column in ("map", "ap50", "f1_50", "aji", "dice")), header
    run = tmp_path / "runs" / "ulite" / "fold0"
    assert json.loads((run / "summary.json").read_text())["instances"]["head"] == "distance"
    assert rows[0]["map"] == pytest.approx(evaluate(run / "best.pt").aggregate["map"])
    semantic = run_compare(_config(tmp_path / "semantic", ["ulite"]))
    assert "map" not in markdown_table(semantic).splitlines()[0]
