"""The issue's bar for bad volume input, through the CLI: channels or image and label on different grids, a
label with undeclared values, a 4D label, a truncated .nii.gz. Each gets one line naming the file and the fix,
exit code 1, and nothing written -- by ``data check``, ``train`` and ``predict`` alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from unetzoo.cli import main
from unetzoo.engine.train import train
from unetzoo.volumes import Geometry, brain_case, parse_brain_spec, read_volume, write_dataset, write_volume
from unetzoo.volumes.synthetic import LABELS

SPEC = parse_brain_spec("synthetic:brain?n=3&size=16x20x20&modalities=4&seed=5")
Break = Callable[[Path], tuple[Path, str]]


def dataset(root: Path) -> Path:
    cases = [brain_case(SPEC, i) for i in range(3)]
    return write_dataset(root, cases, channel_names=SPEC.channel_names, labels=LABELS)


def shifted(path: Path) -> None:
    """Move the file's grid 2 mm along z (far beyond ITK's tolerance), voxels unchanged."""
    vol = read_volume(path)
    g = vol.geometry
    write_volume(path, vol.array, Geometry(g.spacing, np.add(g.origin, (0.0, 0.0, 2.0)), g.direction))


def channel_geometry(root: Path) -> tuple[Path, str]:
    shifted(path := root / "imagesTr" / "brain_0001_0002.nii.gz")
    return path, "mm, origin (-9.5, -9.5, -5.5), brain_0001_0000.nii.gz spacing 1x1x1 mm, origin (-9.5, -9.5, -7.5)"


def label_geometry(root: Path) -> tuple[Path, str]:
    shifted(path := root / "labelsTr" / "brain_0001.nii.gz")
    return path, "brain_0001_0000.nii.gz spacing 1x1x1 mm, origin (-9.5, -9.5, -7.5); all channels and the label"


def undeclared_values(root: Path) -> tuple[Path, str]:
    vol = read_volume(path := root / "labelsTr" / "brain_0001.nii.gz")
    array = vol.array.copy()
    array[0, 0, 0] = 7
    write_volume(path, array, like=vol)
    return path, "(slice z000): values {7} are not declared in dataset.json; declare them in dataset.json or fix"


def label_4d(root: Path) -> tuple[Path, str]:
    image = nib.load(path := root / "labelsTr" / "brain_0001.nii.gz")
    data = np.asarray(image.dataobj)
    nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), image.affine), path)
    return path, "is 4D (20x20x16x2) but a 3D volume was expected; store each channel or time point as its own"


def truncated_label(root: Path) -> tuple[Path, str]:
    path = root / "labelsTr" / "brain_0001.nii.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, "the file is corrupt or truncated: export it again"


def truncated_channel(root: Path) -> tuple[Path, str]:
    """Found on opening without reading the voxels: the gzip trailer disagrees with the header's length."""
    path = root / "imagesTr" / "brain_0002_0001.nii.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    return path, "the file is corrupt or truncated: export it again"


BROKEN = [channel_geometry, label_geometry, undeclared_values, label_4d, truncated_label, truncated_channel]


def one_line(err: str, path: Path, message: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"unetzoo: error: {path}"), err
    assert message in err, err


@pytest.mark.parametrize("corrupt", BROKEN, ids=lambda f: f.__name__)
def test_data_check_and_train_refuse_it(corrupt: Break, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = dataset(tmp_path / "Dataset520_Brain")
    path, message = corrupt(root)
    before = sorted(p for p in tmp_path.rglob("*"))

    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}") and message in errors[0], out

    run = tmp_path / "run"
    code = main(["train", "--data", str(root), "--model", "ulite", "--epochs", "1", "--iters-per-epoch", "1",
                 "--batch-size", "2", "--out", str(run), "--no-progress"])  # fmt: skip
    assert code == 1
    one_line(capsys.readouterr().err, path, message)
    assert not [p for p in run.rglob("*")]  # no file: not a config, a split, a log or a checkpoint
    assert sorted(p for p in tmp_path.rglob("*") if p != run) == before


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "run"
    result = train(data=SPEC.spec, model="ulite", epochs=1, iters_per_epoch=1, batch_size=2, val_fraction=0.34,
                   out=str(out), progress=False)  # fmt: skip
    return result.best_checkpoint


def test_predict_refuses_it_before_writing(checkpoint: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Two cases to predict, the second broken: not even the first is written (every input is read first)."""
    root = dataset(tmp_path / "Dataset521_Brain")
    images = root / "imagesTr"
    four_d = images / "brain_0002_0003.nii.gz"
    image = nib.load(four_d)
    nib.save(nib.Nifti1Image(np.stack([np.asarray(image.dataobj)] * 2, axis=-1), image.affine), four_d)
    cases = [
        (channel_geometry(root)[0], "all channels and the label of a case must share one geometry"),
        (four_d, "is 4D (20x20x16x2) but a 3D volume was expected"),
    ]
    for path, message in cases:
        out = tmp_path / f"pred_{path.stem}"
        case = path.name[: -len("_0000.nii.gz")]
        code = main(["predict", str(images / "brain_0000_0000.nii.gz"), str(images / f"{case}_0000.nii.gz"),
                     "--checkpoint", str(checkpoint), "--out", str(out), "--save-prob", "--overlay"])  # fmt: skip
        assert code == 1
        one_line(capsys.readouterr().err, path, message)
        assert not out.exists()
    truncated = images / "brain_0000_0001.nii.gz"
    truncated.write_bytes(truncated.read_bytes()[:-100])
    assert main(["predict", str(images), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "p")]) == 1
    one_line(capsys.readouterr().err, truncated, "the file is corrupt or truncated: export it again")
    assert not (tmp_path / "p").exists()
