"""Fixtures of the serve tests: a tiny gray checkpoint trained here, its ONNX export, real ISBI slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from servekit import NUCLEI, gray_image

from unetzoo.serve.model import ServedModel, load_model


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.pt of one epoch of ulite on gray synthetic membranes (ISBI-like: one channel)."""
    from unetzoo.engine.train import train

    out = tmp_path_factory.mktemp("serve-run") / "run"
    result = train(
        model="ulite",
        data="synthetic:membranes?n=8&size=64",
        epochs=1,
        batch_size=2,
        patch_size=(64, 64),
        progress=False,
        out=str(out),
    )
    return result.best_checkpoint


@pytest.fixture(scope="session")
def threshold(checkpoint: Path) -> float:
    """The median foreground probability on a gray image: one epoch of training gives nearly flat
    probabilities, so this threshold makes masks with both classes."""
    probs = np.asarray(load_model(checkpoint).segmenter.probabilities(gray_image(64, 64)))
    return float(np.median(probs))


@pytest.fixture(scope="session")
def model(checkpoint: Path, threshold: float) -> ServedModel:
    return load_model(checkpoint, threshold=threshold)


@pytest.fixture(scope="session")
def onnx_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unetzoo.deploy import export_model

    return export_model(checkpoint, "onnx", tmp_path_factory.mktemp("serve-onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def isbi_slice(shared_data: Path) -> Path:
    return shared_data / "isbi2012" / "images" / "00.png"


@pytest.fixture(scope="session")
def instance_model(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    """One epoch of ulite with the default head (distance, ``--task instances``) on synthetic nuclei, by torch."""
    from unetzoo.engine.train import train

    out = tmp_path_factory.mktemp("serve-instances") / "run"
    result = train(model="ulite", data=NUCLEI, task="instances", epochs=1, batch_size=2, patch_size=(64, 64),
                   progress=False, out=str(out))  # fmt: skip
    return load_model(result.best_checkpoint)
