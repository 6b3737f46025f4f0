"""End to end: real training steps through the real loader, checkpoints, resume, eval, predict, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

import unetzoo
from unetzoo.cli import main
from unetzoo.data.io import read_image, write_image
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.train import train

TINY = "synthetic:nuclei?n=12&size=48"
FAST = {"model": "ulite", "data": TINY, "batch_size": 4, "patch_size": (48, 48), "progress": False}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    train(**FAST, epochs=2, out=str(out))
    return out


def test_run_folder_has_everything(run: Path) -> None:
    for name in (
        "config.yaml",
        "split.json",
        "metrics.csv",
        "log.json",
        "summary.json",
        "last.pt",
        "best.pt",
        "report.html",
        "curves.png",
    ):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and summary["best_val_dice"] is not None
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    assert "<h2>Training plan</h2>" in html and "native resolution: objects fit in the patch" in html
    assert json.loads((run / "plan.json").read_text())["resampling"]["mode"] == "native"
    payload = load_checkpoint(run / "best.pt")
    for key in ("optimizer", "epoch", "rng", "config", "class_names", "preprocess", "data_fingerprint", "split"):
        assert key in payload, key
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss") and len(rows) == 3
    # The checkpoint keeps its validation per image, which the report ranks its cases by.
    per_image = payload["val_dice_per_image"]
    assert sorted(per_image) == sorted(payload["split"]["val"])
    assert np.mean(list(per_image.values())) == pytest.approx(payload["metrics"]["val_dice"])


def test_report_predicts_only_the_cases_it_shows(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unetzoo.engine.inference import Segmenter
    from unetzoo.report.run_report import _cases

    calls = []
    predict = Segmenter.predict
    monkeypatch.setattr(Segmenter, "predict", lambda self, *a, **k: calls.append(1) or predict(self, *a, **k))
    cases = _cases(run, 1)
    ranked = sorted(load_checkpoint(run / "best.pt")["val_dice_per_image"].items(), key=lambda kv: kv[1])
    assert [c["id"] for c in cases] == [ranked[-1][0], ranked[0][0]] and len(calls) == 2
    assert cases[0]["dice"] == pytest.approx(ranked[-1][1], abs=1e-4)


def test_deterministic_and_resume_is_exact(tmp_path: Path, run: Path) -> None:
    again = tmp_path / "again"
    train(**FAST, epochs=2, out=str(again))
    assert _same(_weights(run / "last.pt"), _weights(again / "last.pt"))
    # Extending a finished run: with a flat schedule, 1 epoch + resume to 2 equals 2 epochs straight.
    flat = {**FAST, "scheduler": "none"}
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(**flat, epochs=2, out=str(whole))
    train(**flat, epochs=1, out=str(split))
    train(out=str(split), resume=True, epochs=2)
    assert _same(_weights(whole / "last.pt"), _weights(split / "last.pt"))


def test_kill_9_mid_run_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    args = [
        "train",
        "--model",
        "ulite",
        "--data",
        "synthetic:nuclei?n=24&size=48",
        "--batch-size",
        "2",
        "--patch-size",
        "48",
        "48",
        "--epochs",
        "6",
        "--no-progress",
        "--threads",
        "1",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "unetzoo", *args, "--out", str(killed)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (killed / "log.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1].decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stopped_at = load_checkpoint(killed / "last.pt")["epoch"]
    assert stopped_at < 6, "the kill must land mid-run"
    assert main(["train", "--out", str(killed), "--resume", "--no-progress", "--threads", "1"]) == 0
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    assert _same(_weights(whole / "last.pt"), _weights(killed / "last.pt"))


def test_existing_run_is_not_overwritten(run: Path) -> None:
    before = (run / "last.pt").read_bytes()
    with pytest.raises(unetzoo.UnetzooError, match="already holds a run"):
        train(**FAST, epochs=1, out=str(run))
    assert (run / "last.pt").read_bytes() == before


def test_divergence_stops_cleanly_and_keeps_last_good_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "nan"
    with pytest.raises(unetzoo.UnetzooError, match="diverged"):
        train(**FAST, epochs=3, lr=1e30, optimizer="sgd", grad_clip=None, out=str(out))
    state = _weights(out / "last.pt")
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_eval_json_keys(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--checkpoint", str(run / "best.pt"), "--json", "--per-image", str(run / "pi.csv")]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("dice", "iou", "miou", "accuracy", "precision", "recall", "hd95", "n_images"):
        assert key in result, key
    n_val = json.loads((run / "summary.json").read_text())["n_val"]
    assert result["n_images"] == n_val >= 2 and 0.0 <= result["dice"] <= 1.0
    assert len((run / "pi.csv").read_text().splitlines()) == n_val + 1


def test_predict_writes_masks_of_input_size_and_refuses_overwrites(run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in dir é"
    src.mkdir()
    write_image(src / "a b.png", (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    args = ["predict", "--checkpoint", str(run / "best.pt"), str(src), "--out", str(out), "--tile", "32"]
    assert main([*args, "--overlay", "--save-prob"]) == 0
    mask = read_image(out / "a b.png")
    assert mask.shape == (70, 90) and set(np.unique(mask)) <= {0, 255}
    assert (out / "a b_overlay.png").is_file() and (out / "a b_prob.tif").is_file()
    stamp = (out / "a b.png").stat().st_mtime_ns
    assert main(args) == 1  # exists, no --overwrite
    assert main([*args, "--skip-existing"]) == 0
    assert (out / "a b.png").stat().st_mtime_ns == stamp
    assert main(["predict", "--checkpoint", str(run / "best.pt"), str(src), "--out", str(src)]) == 1


@pytest.mark.parametrize("channels", [2, 4])
def test_wrong_channel_count_is_a_clear_error(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], channels: int
) -> None:
    """Two channels, or four stains (not RGBA: no sample declared alpha), have no meaning for an RGB model."""
    stains = np.zeros((40, 40, channels), np.uint8)
    tifffile.imwrite(tmp_path / "many.tif", stains, photometric="minisblack", planarconfig="contig")
    code = main(
        ["predict", "--checkpoint", str(run / "best.pt"), str(tmp_path / "many.tif"), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1 and f"many.tif: has {channels} channel(s)" in err and "expects 3" in err
    assert "Traceback" not in err and not (tmp_path / "o" / "many.png").exists()


def test_gray_image_for_an_rgb_run_is_replicated_as_in_training(run: Path, tmp_path: Path) -> None:
    """A gray image reaches an RGB model as a gray image of an RGB dataset reached it in training: replicated."""
    gray = (np.random.default_rng(3).random((40, 52)) * 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "gray.png", gray)
    write_image(tmp_path / "in" / "rgb.png", np.repeat(gray[..., None], 3, axis=2))
    args = ["predict", "--checkpoint", str(run / "best.pt"), str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    assert main([*args, "--save-prob"]) == 0
    np.testing.assert_array_equal(
        read_image(tmp_path / "o" / "gray_prob.tif"), read_image(tmp_path / "o" / "rgb_prob.tif")
    )


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["train", "--model", "nope", "--data", TINY], 2, "unknown model 'nope'"),
        (["eval", "--checkpoint", "/nonexistent/best.pt"], 1, "checkpoint not found"),
        (["train", "--data", TINY, "--budget", "soon"], 2, "not a duration"),
        (["train", "--data", "/nonexistent/folder"], 1, "/nonexistent/folder"),
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "x")] if argv[0] == "train" else argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_ctrl_c_keeps_a_resumable_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "int"
    cmd = [
        sys.executable,
        "-m",
        "unetzoo",
        "train",
        "--model",
        "ulite",
        "--data",
        "synthetic:nuclei?n=64&size=64",
        "--batch-size",
        "2",
        "--patch-size",
        "64",
        "64",
        "--epochs",
        "50",
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while not (out / "log.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # until at least one epoch is done
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    epoch = load_checkpoint(out / "last.pt")["epoch"]
    assert epoch >= 1
    result = train(out=str(out), resume=True, epochs=epoch + 1)
    assert result.summary["epochs_completed"] == epoch + 1


def _real(shared_data: Path, name: str) -> str:
    path = shared_data / name
    assert path.is_dir(), path
    return str(path)


def test_isbi_short_budget_train_and_eval(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "isbi"
    result = train(
        model="ulite",
        data=_real(shared_data, "isbi2012"),
        budget="20s",
        epochs=100,
        batch_size=2,
        patch_size=(128, 128),
        iters_per_epoch=4,
        val_fraction=0.2,
        out=str(out),
        progress=False,
    )
    assert result.summary["n_train"] == 24 and result.summary["n_val"] == 6
    scores = unetzoo_eval(result.best_checkpoint, em=True)
    assert scores["n_images"] == 6
    for key in ("dice", "miou", "v_rand", "v_info", "adapted_rand_error"):
        assert key in scores


def test_dsb_short_budget_train(shared_data: Path, tmp_path: Path) -> None:
    result = train(
        model="ulite",
        data=_real(shared_data, "dsb2018"),
        budget="15s",
        epochs=100,
        batch_size=4,
        patch_size=(96, 96),
        iters_per_epoch=3,
        val_fraction=0.02,
        out=str(tmp_path / "dsb"),
        progress=False,
    )
    assert result.summary["epochs_completed"] >= 1 and result.summary["n_val"] >= 10


def unetzoo_eval(checkpoint: Path, **kw: object) -> dict:
    from unetzoo.engine.evaluate import evaluate

    result = evaluate(checkpoint, **kw)
    return {**result.aggregate, "n_images": len(result.per_image)}


def _default_sigint() -> None:
    """Let the child take Ctrl-C even when the suite runs as a background job (``make test &``): a shell
    without job control starts background jobs with SIGINT ignored, and exec keeps an ignored signal ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_bad_data_or_out_leaves_no_run_folder(tmp_path: Path) -> None:
    """The data is opened and checked before the run folder exists: a refusal leaves nothing behind."""
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "runs" / "r"
    assert main(["train", "--data", str(empty), "--out", str(out), "--no-progress"]) == 1
    assert not out.exists() and not out.parent.exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(unetzoo.UnetzooError, match="a_file is not a folder"):
        train(**FAST, epochs=1, out=str(blocker / "r"))
