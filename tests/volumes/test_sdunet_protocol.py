"""configs/sdunet-brats.yaml: SD-UNet's BraTS protocol (Gadosey et al. 2020, Sec. 3.4.2-3.5, 4.4) as a config
that loads into a TrainConfig with the paper's values and trains on volume slices as it says."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.engine.config import TrainConfig
from unetzoo.engine.train import train
from unetzoo.losses import BCELoss, CrossEntropyLoss, DiceLoss, WeightedSum, build_loss

PROTOCOL = Path(__file__).resolve().parents[2] / "configs" / "sdunet-brats.yaml"


def test_protocol_loads_with_the_papers_values() -> None:
    c = TrainConfig.from_sources(PROTOCOL)
    assert c.model == "sd_unet" and c.data == "nnUNet_raw/Dataset001_BrainTumour"
    assert c.crop == (144, 144) and c.slice_axis == "z"  # Sec. 3.4.3: 240x240 centre-cropped to 144x144
    assert c.window is None and c.normalize is None  # per-volume z-score within the brain (the volume default)
    assert c.optimizer == "adam" and c.lr == 1e-5 and c.scheduler == "none"  # Sec. 3.5
    assert (c.epochs, c.iters_per_epoch) == (4, 1000)  # Sec. 4.4
    assert c.val_fraction == 0.066 and c.test_fraction == 0.095  # 4,960 and 7,130 of 75,020 slices
    assert c.regions is False and c.augment == "none" and c.budget is None
    loss = build_loss(c.loss, "multiclass")  # Sec. 3.5: a weighted sum of Dice and cross-entropy
    assert isinstance(loss, WeightedSum)
    assert [(w, type(term)) for w, term in loss.terms()] == [(1.0, CrossEntropyLoss), (1.0, DiceLoss)]
    binary = build_loss(c.loss, "binary")  # with --regions: binary cross-entropy and Dice, per region
    assert [(w, type(term)) for w, term in binary.terms()] == [(1.0, BCELoss), (1.0, DiceLoss)]


def test_flags_override_the_protocol() -> None:
    c = TrainConfig.from_sources(PROTOCOL, data="synthetic:brain?n=4&size=32", epochs=1, regions=True)
    assert (c.data, c.epochs, c.regions, c.crop, c.lr) == ("synthetic:brain?n=4&size=32", 1, True, (144, 144), 1e-5)


def test_protocol_trains_on_volume_slices(tmp_path: Path) -> None:
    """One real step of the protocol on small synthetic brains (padded to the 144x144 crop)."""
    data = "synthetic:brain?n=3&size=16x24x24&modalities=4&seed=2"
    result = train(config_file=str(PROTOCOL), data=data, epochs=1, iters_per_epoch=1, batch_size=2, val_fraction=0.34,
                   test_fraction=0.0, out=str(tmp_path / "run"), progress=False)  # fmt: skip
    payload = load_checkpoint(result.last_checkpoint)
    assert payload["model"]["name"] == "sd_unet" and payload["model"]["classes"] == 4
    assert payload["volume"] == {"axis": "z", "window": None, "normalize": True, "crop": [144, 144]}
    assert payload["config"]["lr"] == 1e-5 and payload["config"]["optimizer"] == "adam"
    assert payload["config"]["loss"] == "bce+dice" and payload["preprocess"]["normalize"] == "none"
    assert payload["regions"] is None and len(payload["split"]["val"]) == 1
    assert torch.isfinite(torch.tensor(payload["metrics"]["val_dice"]))


@pytest.mark.parametrize("key", ["model", "crop", "lr", "loss", "optimizer", "epochs", "iters_per_epoch"])
def test_protocol_states_each_setting(key: str) -> None:
    """Every value the paper gives is written in the file, not left to defaults or the planner."""
    import yaml

    assert key in yaml.safe_load(PROTOCOL.read_text())
