"""3D nnU-Net raw v2: write a 4-channel region-based dataset, read it back exactly, refuse broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from unetzoo.errors import UnetzooError
from unetzoo.volumes import (
    Geometry,
    VolumeDataset,
    brain_case,
    parse_brain_spec,
    read_volume,
    write_dataset,
    write_volume,
)
from unetzoo.volumes.io import Case
from unetzoo.volumes.synthetic import REGIONS

SPEC = parse_brain_spec("synthetic:brain?n=3&size=20x24x28&modalities=4")


def make(root: Path, ending: str = ".nii.gz", cases: list[Case] | None = None) -> Path:
    cases = cases if cases is not None else [brain_case(SPEC, i) for i in range(2)]
    return write_dataset(
        root, cases, channel_names=SPEC.channel_names, labels=REGIONS, regions_class_order=[1, 2, 3], file_ending=ending
    )


@pytest.mark.parametrize("ending", [".nii.gz", ".mha", ".nrrd"])
def test_round_trip_with_four_channels(tmp_path: Path, ending: str) -> None:
    test_case = brain_case(SPEC, 2)
    unlabelled = Case("brain_0002", test_case.image, None, test_case.geometry)
    root = make(tmp_path / "Dataset501_Brain", ending, [brain_case(SPEC, 0), brain_case(SPEC, 1), unlabelled])
    meta = json.loads((root / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "FLAIR", "1": "T1w", "2": "T1gd", "3": "T2w"}
    assert meta["labels"]["whole_tumor"] == [1, 2, 3] and meta["regions_class_order"] == [1, 2, 3]
    assert meta["numTraining"] == 2 and meta["file_ending"] == ending
    assert sorted(p.name for p in (root / "imagesTs").iterdir()) == [f"brain_0002_{k:04d}{ending}" for k in range(4)]
    ds = VolumeDataset(root)
    assert ds.ids == ["brain_0000", "brain_0001"] and ds.channel_names == list(SPEC.channel_names)
    for i, case in enumerate(ds):
        original = brain_case(SPEC, i)
        assert case.image.shape == (4, 20, 24, 28) and case.image.dtype == np.int16
        np.testing.assert_array_equal(case.image, original.image)
        np.testing.assert_array_equal(case.label, original.label)
        assert case.geometry.matches(original.geometry) and case.reference.array.base is not None


def test_rewriting_read_cases_keeps_every_header(tmp_path: Path) -> None:
    """Cases read from a dataset carry their channel-0 volume: written again, each file's header is the same."""
    first = make(tmp_path / "Dataset501_Brain")
    ds = VolumeDataset(first)
    second = make(tmp_path / "Dataset502_Copy", cases=list(ds))
    for a in sorted((first / "imagesTr").iterdir()) + sorted((first / "labelsTr").iterdir()):
        b = second / a.parent.name / a.name
        ha, hb = nib.load(a).header, nib.load(b).header
        assert ha.get_data_dtype() == hb.get_data_dtype()
        np.testing.assert_array_equal(nib.load(a).affine, nib.load(b).affine)
        assert (ha["qform_code"], ha["sform_code"]) == (hb["qform_code"], hb["sform_code"])


def test_channel_geometry_mismatch_is_one_line(tmp_path: Path) -> None:
    root = make(tmp_path / "Dataset501_Brain", ".mha")
    bad = root / "imagesTr" / "brain_0001_0002.mha"
    vol = read_volume(bad)
    shifted = Geometry(vol.geometry.spacing, np.add(vol.geometry.origin, (0, 0, 2.0)), vol.geometry.direction)

    write_volume(bad, vol.array, shifted)
    ds = VolumeDataset(root)
    ds.read("brain_0000")
    with pytest.raises(UnetzooError) as info:
        ds.read("brain_0001")
    message = str(info.value)
    assert message.startswith(str(bad)) and "origin (-13.5, -11.5, -7.5)" in message and "\n" not in message


def test_label_of_another_size_and_missing_channel(tmp_path: Path) -> None:
    root = make(tmp_path / "Dataset501_Brain")
    label = root / "labelsTr" / "brain_0000.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((28, 24, 19), np.uint8), nib.load(label).affine), label)
    with pytest.raises(
        UnetzooError, match=r"is \(19, 24, 28\) \(z, y, x\) but brain_0000_0000.nii.gz is \(20, 24, 28\)"
    ):
        VolumeDataset(root).read("brain_0000")
    (root / "imagesTr" / "brain_0001_0003.nii.gz").unlink()
    with pytest.raises(UnetzooError, match=r"case 'brain_0001' lacks imagesTr/brain_0001_0003.nii.gz"):
        VolumeDataset(root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"file_ending": ".png"}, "file_ending '.png' is not a volume format"),
        ({"regions_class_order": None}, "region-based labels need 'regions_class_order'"),
        ({"labels": {"background": 0, "tumour": 2}}, "not consecutive ids 0..K-1"),
        ({"labels": {"background": 0, "whole": [1, 3]}, "regions_class_order": [1]}, "not consecutive 0..K-1"),
    ],
)
def test_bad_dataset_json(tmp_path: Path, change: dict, message: str) -> None:
    root = make(tmp_path / "Dataset501_Brain", cases=[])
    meta = json.loads((root / "dataset.json").read_text())
    meta.update(change)
    meta = {k: v for k, v in meta.items() if v is not None}
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(UnetzooError, match=message):
        VolumeDataset(root)
