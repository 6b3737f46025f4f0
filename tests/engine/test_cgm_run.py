"""A model with a classification-guided module (CGM) trains it, reports it, and gates only once trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import unetzoo
from unetzoo.cli import main
from unetzoo.engine.checkpoint import load_checkpoint, model_from_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.train import train

DATA = "synthetic:nuclei?n=8&size=32"
SMALL = {"widths": [8, 16, 32]}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cgm") / "run"
    options = {"epochs": 2, "batch_size": 2, "patch_size": (32, 32), "val_fraction": 0.25, "progress": False}
    train(model="unet3p", preset="ds_cgm", model_kwargs=SMALL, data=DATA, out=str(out), **options)
    return out


def test_training_trains_the_cgm_and_saves_that_it_did(run: Path) -> None:
    payload = load_checkpoint(run / "last.pt")
    assert int(payload["state_dict"]["cgm.trained_steps"]) == payload["global_step"] > 0
    model = model_from_checkpoint(payload)
    assert model.cgm is not None and model.cgm.trained and not model.training
    rows = json.loads((run / "log.json").read_text())
    assert all(0.0 <= row["val_cgm_accuracy"] <= 1.0 for row in rows)


def test_eval_json_reports_cgm_accuracy(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--checkpoint", str(run / "best.pt"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["cgm_accuracy"] <= 1.0 and report["n_images"] == 2
    result = evaluate(run / "best.pt", split="all")
    assert [row["cgm_accuracy"] in (0.0, 1.0) for row in result.per_image] == [True] * 8
    assert result.aggregate["cgm_accuracy"] == sum(r["cgm_accuracy"] for r in result.per_image) / 8


def test_models_without_a_cgm_report_no_cgm_accuracy(tmp_path: Path) -> None:
    options = {"epochs": 1, "batch_size": 2, "patch_size": (32, 32), "progress": False}
    done = train(model="unet3p", model_kwargs=SMALL, data=DATA, out=str(tmp_path / "run"), **options)
    assert "cgm_accuracy" not in evaluate(done.best_checkpoint).aggregate


def test_an_untrained_cgm_never_blanks_a_mask() -> None:
    """Fresh models, and checkpoints written before the CGM had a loss term (no trained_steps), do not gate."""
    torch.manual_seed(0)
    model = unetzoo.create_model("unet3p", preset="ds_cgm", in_channels=1, **SMALL).eval()
    assert model.cgm is not None
    with torch.no_grad():
        model.cgm.classifier[1].bias.copy_(torch.tensor([50.0, -50.0]))  # "no object" for any image
        x = torch.randn(2, 1, 32, 32)
        assert (model(x) != model.cgm.no_object_logit).all()
        old = {k: v for k, v in model.state_dict().items() if k != "cgm.trained_steps"}
        model.cgm.mark_trained()
        assert (model(x) == model.cgm.no_object_logit).all()  # trained: now it gates
        model.load_state_dict(old)  # an old checkpoint loads (strict) as untrained
        assert not model.cgm.trained and (model(x) != model.cgm.no_object_logit).all()
