"""A registry of the tests' own: a small instance model really trained here, packaged as a pretrained model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tiny_registry import DATA, NAME

from unetzoo.data import open_source
from unetzoo.pretrained.package import median_object_diameter, package, seen_object_sizes
from unetzoo.pretrained.registry import PretrainedModel


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best checkpoint of two epochs of ulite with the distance head on synthetic nuclei."""
    from unetzoo.engine.train import train

    run = tmp_path_factory.mktemp("pretrained-run")
    result = train(model="ulite", data=DATA, task="instances", head="distance", epochs=2, batch_size=4,
                   patch_size=(64, 64), progress=False, out=str(run / "run"))  # fmt: skip
    return Path(result.best_checkpoint)


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory, trained_checkpoint: Path) -> Path:
    """A weights folder with one model: :func:`trained_checkpoint` packaged."""
    entry = PretrainedModel(
        name=NAME,
        task="instances",
        architecture="ulite",
        head="distance",
        summary="test model",
        training_data=DATA,
        data_licence="CC0-1.0",
        object_size=round(median_object_diameter(open_source(DATA)), 2),
        object_size_range=seen_object_sizes(open_source(DATA)),
        intended_inputs="synthetic nuclei",
        not_trained_on="anything real",
        files={},
        scores={"dice": 0.5},
    )
    folder = tmp_path_factory.mktemp("weights")
    package(trained_checkpoint, entry, folder)
    return folder


@pytest.fixture
def registry(registry_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``UNETZOO_PRETRAINED_DIR`` pointed at the tests' registry for one test."""
    monkeypatch.setenv("UNETZOO_PRETRAINED_DIR", str(registry_dir))
    return registry_dir


@pytest.fixture
def tampered(
    registry_dir: Path, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the registry, in use, whose file ``request.param`` (checkpoint, onnx, card) has one byte changed."""
    folder = shutil.copytree(registry_dir, tmp_path / "weights")
    suffix = {"checkpoint": ".pt", "onnx": ".onnx", "card": ".onnx.json"}[request.param]
    target = folder / f"{NAME}{suffix}"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    monkeypatch.setenv("UNETZOO_PRETRAINED_DIR", str(folder))
    return target
