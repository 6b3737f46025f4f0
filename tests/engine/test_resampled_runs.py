"""Runs trained at a working scale: the budget rule, and train -> eval/predict/export at two scales, mapped
back to the original image size."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from unetzoo.data import Preprocess, open_source
from unetzoo.data.io import read_image, write_image
from unetzoo.deploy.export import export_model
from unetzoo.deploy.runtime import OnnxSegmenter
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.evaluate import evaluate
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.predict import PredictOptions, predict_paths
from unetzoo.engine.train import train
from unetzoo.models import SegmentationModel
from unetzoo.utils.edges import boundary_pixels
from unetzoo.utils.resample import Resampling

DATA = "synthetic:nuclei?n=8&size=64"


class Brightness(SegmentationModel):
    """Logits = 20 * (normalized intensity - 0.5): foreground exactly where the input is bright."""

    def __init__(self) -> None:
        super().__init__(1, 1, input_multiple=1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        return 20 * (x[:, :1] - 0.5)


@pytest.mark.parametrize("resampling", [Resampling("scale", scale=0.5), Resampling("resize", size=(16, 24))])
def test_probabilities_are_mapped_back_to_the_original_geometry(resampling: Resampling) -> None:
    image = np.zeros((50, 70), np.uint8)
    image[:, 31:] = 255
    image[10:20, 5:12] = 255  # a block away from the edge, to check both axes
    segmenter = Segmenter(Brightness(), Preprocess("minmax", channels=1), resampling=resampling)
    mask = segmenter.predict(image[..., None])
    assert mask.shape == image.shape
    truth = (image > 0).astype(np.int64)
    wrong = mask != truth
    h, w = resampling.target_size(*image.shape)
    reach = 1.5 / min(h / image.shape[0], w / image.shape[1])  # one and a half working pixels, in original px
    distance = ndi.distance_transform_edt(~boundary_pixels(truth))
    assert (distance[wrong] <= reach).all()  # errors only along the edges
    assert wrong.sum() <= 0.1 * image.size


def test_a_budget_alone_is_the_stopping_rule(tmp_path: Path) -> None:
    result = train(model="ulite", data="synthetic:nuclei?n=4&size=32", batch_size=2, patch_size=(32, 32),
                   iters_per_epoch=1, budget="5s", out=str(tmp_path / "r"), progress=False)  # fmt: skip
    assert result.summary["stop_reason"] == "budget" and result.summary["elapsed_seconds"] >= 5
    config = load_checkpoint(result.last_checkpoint)["config"]
    assert config["epochs"] is None and config["budget"] == "5s"  # no hidden epoch cap beside the budget


@pytest.mark.parametrize(
    ("options", "record"),
    [
        ({"scale": 0.5}, {"mode": "scale", "size": None, "scale": 0.5}),
        ({"resize": (40, 48)}, {"mode": "resize", "size": [40, 48], "scale": None}),
    ],
)
def test_train_eval_predict_export_at_a_working_scale(tmp_path: Path, options: dict, record: dict) -> None:
    run = tmp_path / "run"
    result = train(model="ulite", data=DATA, batch_size=2, patch_size=(32, 32), epochs=1, out=str(run),
                   progress=False, **options)  # fmt: skip
    payload = load_checkpoint(result.best_checkpoint)
    assert payload["resampling"] == record and payload["config"]["resampling"] == record
    assert "val_dice" in payload["metrics"]
    scores = evaluate(result.best_checkpoint, split="all")
    assert len(scores.per_image) == 8 and scores.aggregate["dice"] is not None

    source = open_source(DATA)
    image, _ = source.load(0)
    segmenter = Segmenter.from_checkpoint(result.best_checkpoint)
    assert segmenter.resampling == Resampling.from_dict(record)
    torch_probs = segmenter.probabilities(image).numpy()
    assert torch_probs.shape == (1, 64, 64)

    inputs = tmp_path / "in"
    inputs.mkdir()
    write_image(inputs / "a.png", image.astype(np.uint8))
    predict_paths(segmenter, [str(inputs / "a.png")], str(tmp_path / "pred"), PredictOptions())
    assert read_image(tmp_path / "pred" / "a.png").shape[:2] == (64, 64)

    onnx = export_model(result.best_checkpoint, out=tmp_path / "m.onnx")
    runtime = OnnxSegmenter(onnx)
    assert runtime.resampling == segmenter.resampling
    np.testing.assert_allclose(runtime.probabilities(image), torch_probs, atol=1e-4)


def test_a_budget_spent_between_epochs_still_validates_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget can run out after an epoch whose validation was skipped (by its checkpoint, say): that epoch
    is the last, so it is validated before the run stops, and best.pt can be it."""
    from unetzoo.engine import train as train_module

    monkeypatch.setattr(train_module.Trainer, "_out_of_time", lambda self: self.epoch >= 3)  # after epoch 3
    result = train(model="ulite", data="synthetic:nuclei?n=4&size=32", batch_size=2, patch_size=(32, 32),
                   iters_per_epoch=1, val_every=2, budget="1h", out=str(tmp_path / "r"), progress=False)  # fmt: skip
    history = load_checkpoint(result.last_checkpoint)["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert "val_dice" not in history[0] and "val_dice" in history[1]  # every second epoch, as asked
    assert "val_dice" in history[2] and "val_time" in history[2]  # the last one too, though 3 % 2 != 0
    assert result.summary["stop_reason"] == "budget"


def test_validation_keeps_to_its_share_of_a_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first validation runs unconditionally (it measures the cost) and the last scores the run; each one
    between starts only while the validations before it, plus the last one's cost again, keep within the share."""
    from unetzoo.engine import train as train_module
    from unetzoo.planning.rules import VALIDATION_SHARE

    real = train_module.Trainer._validate

    def slow_validation(self: train_module.Trainer) -> dict:  # a validation set that costs more than a step
        time.sleep(0.05)
        return real(self)

    monkeypatch.setattr(train_module.Trainer, "_validate", slow_validation)
    result = train(model="ulite", data="synthetic:nuclei?n=4&size=32", batch_size=2, patch_size=(32, 32),
                   iters_per_epoch=1, budget="6s", out=str(tmp_path / "r"), progress=False)  # fmt: skip
    history = load_checkpoint(result.last_checkpoint)["history"]
    validated = [row for row in history if "val_dice" in row]
    assert history[0] in validated and history[-1] in validated  # the first measures the cost; the last scores
    assert len(validated) < len(history) / 2  # each epoch is one step: validating all would be most of the time
    assert len(validated) >= 3  # some validations between: the share, not a ban, holds them back
    for k, row in enumerate(validated[1:-1], start=1):
        spent_before = sum(earlier["val_time"] for earlier in validated[:k])
        assert spent_before <= VALIDATION_SHARE * row["elapsed"]  # the rule it was started under
