"""``unetzoo predict`` on volumes with real tiny models: probabilities and overlays in the input's format and
geometry, DICOM series in and NIfTI out, and the same through an ONNX export of a model trained on slices."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import onnx
import pytest
import SimpleITK as sitk
from PIL import Image
from volgen import PYDICOM_SERIES

from unetzoo.cli import main
from unetzoo.data.regions import Regions
from unetzoo.deploy.card import card_path
from unetzoo.engine.inference import Segmenter
from unetzoo.engine.train import train
from unetzoo.engine.volumes import predict_slices
from unetzoo.errors import UnetzooError
from unetzoo.volumes import brain_case, parse_brain_spec, read_volume, write_dataset, write_volume
from unetzoo.volumes.overlay import GAP, LABEL_COLOURS
from unetzoo.volumes.slices import SliceOptions
from unetzoo.volumes.synthetic import LABELS, REGIONS

BRAIN4 = "synthetic:brain?n=5&size=16x24x24&modalities=4&seed=7"
BRAIN1 = "synthetic:brain?n=4&size=16x24x24&modalities=1&seed=3"
CT5N = PYDICOM_SERIES / "98892001" / "CT5N"
WHOLE = ("whole_tumor", "tumor_core", "enhancing_tumor")


@pytest.fixture(scope="module")
def regions_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ulite, 4 modalities, region-based (3 sigmoid outputs), slices centre-cropped to 20x20: two steps."""
    out = tmp_path_factory.mktemp("regions") / "run"
    result = train(data=BRAIN4, model="ulite", regions=True, crop=(20, 20), epochs=1, iters_per_epoch=2,
                   batch_size=4, val_fraction=0.4, out=str(out), progress=False)  # fmt: skip
    return result.best_checkpoint


@pytest.fixture(scope="module")
def softmax_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ulite, one modality, softmax over the 4 label ids, full slices: two steps."""
    out = tmp_path_factory.mktemp("softmax") / "run"
    result = train(data=BRAIN1, model="ulite", epochs=1, iters_per_epoch=2, batch_size=4, val_fraction=0.3,
                   out=str(out), progress=False)  # fmt: skip
    return result.best_checkpoint


def brain_dataset(root: Path, spec: str, ending: str = ".nii.gz") -> Path:
    brain = parse_brain_spec(spec)
    return write_dataset(root, [brain_case(brain, 4 % brain.n)], channel_names=brain.channel_names, labels=LABELS,
                         file_ending=ending)  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_save_prob_and_overlay_of_a_region_model(regions_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = brain_dataset(tmp_path / "Dataset510_Brain", BRAIN4)
    first = root / "imagesTr" / "brain_0004_0000.nii.gz"
    out = tmp_path / "pred"
    code, stdout, _ = run(capsys, "predict", first, "--checkpoint", regions_ckpt, "--out", out, "--save-prob",
                          "--overlay", "--json")  # fmt: skip
    assert code == 0
    record = json.loads(stdout.splitlines()[0])
    names = [f"brain_0004{s}" for s in ("", "_prob_whole_tumor", "_prob_tumor_core", "_prob_enhancing_tumor")]
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{n}.nii.gz" for n in names] + ["brain_0004_overlay.png"])
    assert record["prob"] == [str(out / f"{n}.nii.gz") for n in names[1:]]

    image, mask = read_volume(first), read_volume(out / "brain_0004.nii.gz")
    probs = np.stack([read_volume(out / f"{n}.nii.gz").array for n in names[1:]])
    for name in names:  # the input's header: affine, qform/sform and their codes, bit for bit
        written, source = nib.load(out / f"{name}.nii.gz").header, nib.load(first).header
        assert read_volume(out / f"{name}.nii.gz").geometry == image.geometry
        for key in ("qform_code", "sform_code", "srow_x", "srow_y", "srow_z", "quatern_b", "pixdim"):
            np.testing.assert_array_equal(written[key], source[key])
    assert nib.load(out / f"{names[1]}.nii.gz").get_data_dtype() == np.float32
    assert probs.shape == (3, 16, 24, 24) and probs.min() >= 0 and probs.max() <= 1
    assert (probs[:, :, :2] == 0).all() and (probs[:, :, 2:22, 2:22] > 0).all()  # outside the 20x20 crop: 0
    regions = Regions.from_labels(REGIONS, (1, 2, 3))
    np.testing.assert_array_equal(mask.array, regions.to_labels(probs))  # the mask is painted from these
    segmenter = Segmenter.from_checkpoint(regions_ckpt)  # and equals what eval predicts (the batched label path)
    options = SliceOptions(crop=(20, 20))
    case = brain_case(parse_brain_spec(BRAIN4), 4)
    expected = predict_slices(segmenter, options, options.prepare(case.image), "x")
    np.testing.assert_array_equal(mask.array, expected)

    montage = np.asarray(Image.open(out / "brain_0004_overlay.png"))
    shown = record["overlay_slices"]
    assert record["overlay"] == str(out / "brain_0004_overlay.png") and 1 <= len(shown) <= 16
    columns = min(4, len(shown))
    rows = -(-len(shown) // columns)
    assert montage.shape == (rows * (24 + GAP) - GAP, columns * (24 + GAP) - GAP, 3)
    held = np.flatnonzero(mask.array.any(axis=(1, 2)))
    if held.size:  # slices spread over the foreground's extent, and label colours where the labels are
        assert shown[0] == held[0] and shown[-1] == held[-1]
        tile = montage[:24, :24].astype(int)
        label = mask.array[shown[0]]
        gray = tile[label == 0]
        assert (gray[:, 0] == gray[:, 1]).all() and (gray[:, 1] == gray[:, 2]).all()
        for k in np.unique(label[label > 0]):
            c = int(np.argmax(LABEL_COLOURS[k - 1]))  # 1 red, 2 green, 3 blue: that channel raised
            tinted, others = tile[label == k], [o for o in range(3) if o != c]
            assert (tinted[:, c] > tinted[:, others[0]]).all() and (tinted[:, others[0]] == tinted[:, others[1]]).all()


def test_metaimage_in_metaimage_out_with_class_probabilities(softmax_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = brain_dataset(tmp_path / "Dataset511_Brain", BRAIN1, ".mha")
    scan = root / "imagesTr" / "brain_0000_0000.mha"
    code, stdout, _ = run(capsys, "predict", scan, "--checkpoint", softmax_ckpt, "--out", tmp_path / "p", "--save-prob")
    assert code == 0 and "1 volume(s) segmented" in stdout
    out = tmp_path / "p"
    probs = [f"brain_0000_prob_{n}.mha" for n in ("edema", "non_enhancing_tumor", "enhancing_tumor")]
    assert sorted(p.name for p in out.iterdir()) == sorted(["brain_0000.mha", *probs])
    image = read_volume(scan)
    fg = np.stack([read_volume(out / p).array for p in probs])
    for p in ["brain_0000.mha", *probs]:
        assert read_volume(out / p).geometry == image.geometry  # exact: MetaImage keeps 17 digits
    assert fg.dtype == np.float32 and (fg.sum(axis=0) <= 1 + 1e-5).all()
    background = 1 - fg.sum(axis=0)
    labels = np.concatenate([background[None], fg]).argmax(axis=0)
    agree = (labels == read_volume(out / "brain_0000.mha").array).mean()
    assert agree > 0.999  # the mask is the argmax of these (background recomputed in float32)


def test_dicom_series_in_nifti_out(softmax_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """pydicom's CT5N (5 axial CT slices): the prediction is CT5N.nii.gz, said in one line, on the series' grid."""
    out = tmp_path / "pred"
    code, stdout, _ = run(capsys, "predict", CT5N, "--checkpoint", softmax_ckpt, "--out", out, "--save-prob")
    assert code == 0
    line = stdout.splitlines()[0]
    assert line.startswith(f"{CT5N} -> {out / 'CT5N.nii.gz'} (") and "DICOM series in, NIfTI out" in line
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "CT5N.nii.gz",
            "CT5N_prob_edema.nii.gz",
            "CT5N_prob_non_enhancing_tumor.nii.gz",
            "CT5N_prob_enhancing_tumor.nii.gz",
        ]
    )
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(CT5N)))
    series = reader.Execute()
    for name in ("CT5N.nii.gz", "CT5N_prob_edema.nii.gz"):
        written = sitk.ReadImage(str(out / name))
        assert written.GetSize() == series.GetSize()
        np.testing.assert_allclose(written.GetSpacing(), series.GetSpacing(), atol=1e-5)  # NIfTI: float32 affine
        np.testing.assert_allclose(written.GetOrigin(), series.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(written.GetDirection(), series.GetDirection(), atol=1e-6)
    assert series.GetSpacing()[2] == 2.5 and series.GetOrigin() != (0.0, 0.0, 0.0)


def test_dicom_series_for_a_model_of_several_modalities(regions_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, stdout, stderr = run(capsys, "predict", CT5N, "--checkpoint", regions_ckpt, "--out", tmp_path / "p")
    assert code == 1 and stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith(f"unetzoo: error: {CT5N}: holds a DICOM series but the model takes 4 modalities")
    assert not (tmp_path / "p").exists()


def test_export_and_onnx_inference_on_a_volume(regions_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "brain.onnx"
    code, stdout, _ = run(capsys, "export", "--checkpoint", regions_ckpt, "--out", model)
    assert code == 0 and f"wrote {model}" in stdout
    card = json.loads(card_path(model).read_text())
    assert card["volume"] == {"axis": "z", "window": None, "normalize": True, "crop": [20, 20]}
    assert card["regions"] == {"names": list(WHOLE), "ids": [[1, 2, 3], [2, 3], [3]], "order": [1, 2, 3]}
    assert card["output_activation"] == "sigmoid" and card["classes"] == 3 and card["in_channels"] == 4
    metadata = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert json.loads(metadata["unetzoo.volume"]) == card["volume"]
    assert json.loads(metadata["unetzoo.regions"]) == card["regions"]

    root = brain_dataset(tmp_path / "Dataset512_Brain", BRAIN4)
    scan = root / "imagesTr" / "brain_0004_0001.nii.gz"
    for engine, flags in (("torch", ["--checkpoint", regions_ckpt]), ("onnx", ["--model", model])):
        assert run(capsys, "predict", scan, *flags, "--out", tmp_path / engine, "--save-prob")[0] == 0
    for name in ("brain_0004_prob_whole_tumor", "brain_0004_prob_tumor_core", "brain_0004_prob_enhancing_tumor"):
        onnx_probs, torch_probs = (read_volume(tmp_path / e / f"{name}.nii.gz").array for e in ("onnx", "torch"))
        np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    masks = [read_volume(tmp_path / e / "brain_0004.nii.gz") for e in ("onnx", "torch")]
    assert masks[0].geometry == masks[1].geometry == read_volume(scan).geometry
    assert (masks[0].array == masks[1].array).mean() > 0.999

    with pytest.raises(UnetzooError, match="trained on volume slices"):
        from unetzoo.serve.model import load_model

        load_model(model)
    code, _, stderr = run(capsys, "export", "--checkpoint", regions_ckpt, "--out", tmp_path / "q.onnx", "--int8",
                          "--calibration", BRAIN4)  # fmt: skip
    assert code == 2 and "export it without --int8" in stderr and not (tmp_path / "q.onnx").exists()


def test_two_inputs_with_one_output_name_are_refused(softmax_ckpt: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    brain = brain_case(parse_brain_spec(BRAIN1), 0)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_volume(tmp_path / folder / "scan.nii.gz", brain.image[0], brain.geometry)
    code, _, stderr = run(capsys, "predict", tmp_path / "a" / "scan.nii.gz", tmp_path / "b" / "scan.nii.gz",
                          "--checkpoint", softmax_ckpt, "--out", tmp_path / "p")  # fmt: skip
    assert code == 1 and "would both be predicted into scan.nii.gz" in stderr and not (tmp_path / "p").exists()
