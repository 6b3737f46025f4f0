"""The pretrained registry on a model packaged here: listing, sha256 refusal, both engines, the commands."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_registry import DATA, NAME

from unetzoo import pretrained
from unetzoo.cli import main
from unetzoo.data import open_source
from unetzoo.engine.checkpoint import load_checkpoint
from unetzoo.errors import UnetzooError
from unetzoo.serve.model import load_model
from unetzoo.utils.integrity import sha256_file

SRC = Path(__file__).resolve().parents[2] / "src"


def _image(i: int = 0) -> np.ndarray:
    """Synthetic sample ``i`` as the 8-bit RGB a user's file holds."""
    return open_source(DATA).load(i)[0].round().astype(np.uint8)


def _write(folder: Path, image: np.ndarray, name: str = "a.png") -> Path:
    from unetzoo.data.io import write_image

    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / name, image)
    return folder / name


def test_listing_has_the_card_and_every_file_verifies(
    registry: Path, trained_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = pretrained.get(NAME)
    assert [m.name for m in pretrained.list()] == [NAME] and pretrained.is_pretrained(NAME)
    for kind, entry in model.files.items():
        path = model.path(kind)
        assert path.parent == registry and sha256_file(path) == entry.sha256 and path.stat().st_size == entry.bytes
    shipped = load_checkpoint(model.path("checkpoint"))
    assert "optimizer" not in shipped and "rng" not in shipped and shipped["instances"]["head"] == "distance"
    trained = load_checkpoint(trained_checkpoint)
    for key in ("inference", "resampling", "threshold", "preprocess"):  # what both engines read to predict
        assert shipped[key] == trained[key], key
    card = json.loads(model.path("card").read_text())
    assert card["inference"] == trained["inference"] and card["inference"]["tile"]
    assert main(["models", "--pretrained", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {"task", "architecture", "training_data", "data_licence", "scores", "size_bytes", "sha256"} <= row.keys()
    assert row["sha256"]["onnx"] == model.files["onnx"].sha256 and row["object_size"] > 0
    low, high = row["object_size_range"]
    assert model.object_size_range == (low, high) and 0 < low <= high
    assert main(["models", "--pretrained"]) == 0
    assert NAME in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tampered", "engine"), [("onnx", "onnx"), ("card", "onnx"), ("checkpoint", "torch")], indirect=["tampered"]
)
def test_a_changed_byte_is_refused_in_one_line(tampered: Path, engine: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnetzooError, match="refused: sha256") as info:
        pretrained.load_pretrained(NAME, engine=engine)
    assert tampered.name in str(info.value) and "\n" not in str(info.value)
    image = _write(tmp_path / "in", _image())
    code = main(["predict", str(image), "--model", NAME, "--engine", engine, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "refused" in err and err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_unknown_name_lists_the_shipped_models(registry: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    image = _write(tmp_path / "in", _image())
    assert main(["predict", str(image), "--model", "nucleus", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'nucleus' not found" in err and NAME in err and err.count("\n") == 1


def test_both_engines_give_the_same_objects(registry: Path) -> None:
    onnx = pretrained.load_pretrained(NAME, engine="onnx")
    torch_model = pretrained.load_pretrained(NAME, engine="torch")
    assert onnx.head is not None and onnx.head.name == "distance" and onnx.decoding == torch_model.decoding
    image = _image(3)
    a, b = onnx.probabilities(image), torch_model.probabilities(image)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert (onnx.decode(a) > 0).sum() == (torch_model.decode(a) > 0).sum()


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_predict_by_name_writes_objects_and_the_object_size(
    registry: Path, engine: str, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    inputs = [_write(tmp_path / "in", _image(i), f"{i}.png") for i in range(2)]
    args = ["predict", *map(str, inputs), "--model", NAME, "--engine", engine, "--out", str(tmp_path / "out")]
    assert main([*args, "--instances", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 2 and all(r["object_size_estimated"] and r["scale_factor"] > 0 for r in records)
    assert (tmp_path / "out" / "0_objects.csv").is_file()
    trained = pretrained.get(NAME).object_size
    assert main([*args, "--object-size", str(trained * 2), "--overwrite", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["scale_factor"] == pytest.approx(0.5) and not r["object_size_estimated"] for r in records)
    from unetzoo.data.io import read_image

    assert set(np.unique(read_image(tmp_path / "out" / "0.png"))) <= {0, 255}  # the mask: the objects' foreground


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--object-size", "0"], "must be a positive number"),
        (["--object-size", "1000"], "more than 4x off"),
    ],
)
def test_bad_object_size_is_one_line(registry: Path, extra: list[str], message: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    image = _write(tmp_path / "in", _image())
    assert main(["predict", str(image), "--model", NAME, "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_object_size_needs_a_pretrained_model(registry: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    image = _write(tmp_path / "in", _image())
    ckpt = str(pretrained.get(NAME).path("checkpoint"))
    assert main(["predict", str(image), "--checkpoint", ckpt, "--out", str(tmp_path / "o"), "--object-size", "9"]) == 2
    assert "--object-size rescales images for a pretrained model" in capsys.readouterr().err


def test_eval_by_name_scores_every_image_of_the_data(registry: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = "synthetic:nuclei?n=4&size=64&seed=5"
    assert main(["eval", "--model", NAME, "--data", data, "--instances", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n_images"] == 4 and {"dice", "map", "ap50"} <= scores.keys()
    assert main(["eval", "--model", NAME]) == 2
    assert "pass --data D" in capsys.readouterr().err


def test_serve_loads_a_pretrained_model_by_name(registry: Path) -> None:
    served = load_model(NAME)
    assert served.card["engine"] == "onnxruntime" and served.instance_model
    assert served.card["sha256"] == pretrained.get(NAME).files["onnx"].sha256
    card = served.card["pretrained"]
    assert card["name"] == NAME and card["data_licence"] == "CC0-1.0" and card["intended_inputs"]
    json.dumps(served.card, allow_nan=False)  # strict JSON, as the API serves it


def test_serve_defaults_to_the_nuclei_model() -> None:
    import argparse

    from unetzoo.cli import serve

    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    assert parser.parse_args(["serve"]).model == "nuclei"


def test_predict_command_on_onnx_never_imports_torch(registry: Path, tmp_path: Path) -> None:
    """The whole ``unetzoo predict --model NAME --engine onnx`` command (parser, sizing, writing) with ``import
    torch`` blocked: its start-up does not pay torch's import (1.5 s, a third of a 100-image command)."""
    Image.fromarray(np.full((48, 64, 3), 30, np.uint8)).save(tmp_path / "a.png")
    code = f"""
        import sys
        sys.modules["torch"] = None
        from unetzoo.cli import main
        status = main(["predict", {str(tmp_path / "a.png")!r}, "--model", {NAME!r}, "--engine", "onnx",
                       "--out", {str(tmp_path / "out")!r}])
        assert status == 0, status
        print("ok")
        """
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "UNETZOO_PRETRAINED_DIR": str(registry)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr
    assert any((tmp_path / "out").iterdir())


def test_onnx_engine_loads_without_torch(registry: Path) -> None:
    """``load_pretrained`` and object decoding on the ONNX runtime with ``import torch`` blocked."""
    code = f"""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        from unetzoo.pretrained import load_pretrained
        objects = load_pretrained({NAME!r})
        labels = objects.predict(np.zeros((40, 50, 3), np.uint8))
        assert labels.shape == (40, 50), labels.shape
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules if sys.modules[m] is not None)
        print("ok")
        """
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "UNETZOO_PRETRAINED_DIR": str(registry)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
