"""Instance labels in the data layer: ``instances/`` beside ``images/``, relabelling, derived masks, the check's
object counts, and bad label images (one line naming the file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from datagen import gray_image, save, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from unetzoo.cli import main
from unetzoo.data import check_source, open_source
from unetzoo.data.instances import instance_stats, to_instances, touching
from unetzoo.errors import UnetzooError


def labels_of(seed: int, size: int = 24) -> np.ndarray:
    """Three objects with odd ids: 7 and 300 touch (share an edge), 65535 stands alone."""
    labels = np.zeros((size, size), np.uint16)
    labels[2:8, 2:8] = 7
    labels[2:8, 8:12] = 300
    labels[14 + seed % 3 : 20, 14:20] = 65535
    return labels


def instance_folder(root: Path, n: int = 3, masks: bool = True) -> Path:
    for i in range(n):
        labels = labels_of(i)
        save(root / "images" / f"img{i}.png", gray_image(24, 24, seed=i))
        save(root / "instances" / f"img{i}.png", labels)
        if masks:
            save(root / "masks" / f"img{i}.png", ((labels != 0) * 255).astype(np.uint8))
    return root


def test_instances_beside_masks_are_read_and_relabelled(tmp_path: Path) -> None:
    src = open_source(instance_folder(tmp_path / "ds"))
    assert src.has_instances and src.instance_path(0).endswith("instances/img0.png")
    labels = src.read_instances(1)
    assert labels.dtype == np.int32 and set(np.unique(labels).tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(labels != 0, src.load(1)[1] != 0)
    assert labels[3, 3] == 1 and labels[3, 9] == 2 and labels[16, 16] == 3  # ids in increasing order of value


def test_fingerprint_covers_the_instance_files(tmp_path: Path) -> None:
    root = instance_folder(tmp_path / "ds")
    before = open_source(root).fingerprint()
    changed = labels_of(0)
    changed[0, 0] = 9
    save(root / "instances" / "img0.png", changed)
    assert open_source(root).fingerprint() != before


def test_mask_is_derived_when_only_instances_exist(tmp_path: Path) -> None:
    root = instance_folder(tmp_path / "ds", masks=False)
    src = open_source(root)
    assert src.classes == 2 and src.has_instances
    mask = src.load(0)[1]
    np.testing.assert_array_equal(mask, (labels_of(0) != 0).astype(np.int64))
    report = check_source(root)
    assert report.ok, report.problems
    assert report.summary["instances"]["objects"] == 9


def test_check_reports_objects_and_touching(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = instance_folder(tmp_path / "ds")
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "instances: 9 objects in 3 label images" in out and "6 touch another object (66.7%)" in out
    summary = check_source(root).summary["instances"]
    assert summary["objects_per_image"] == {"mean": 3.0, "median": 3.0, "min": 3, "max": 3}
    assert summary["touching"] == 6 and summary["empty"] == 0


def test_touching_is_four_neighbourhood() -> None:
    labels = np.zeros((6, 6), np.int32)
    labels[0, 0], labels[1, 1] = 1, 2  # diagonal only: not touching
    labels[4, 2], labels[4, 3] = 3, 4  # side by side: touching
    labels[0, 5] = 5
    assert touching(labels) == 2
    assert instance_stats(labels) == instance_stats(labels.T)
    assert instance_stats(labels).objects == 5 and instance_stats(labels).pixels == 5


def test_missing_instance_file_is_a_warning_and_semantic_use_still_works(tmp_path: Path) -> None:
    root = instance_folder(tmp_path / "ds")
    (root / "instances" / "img2.png").unlink()
    src = open_source(root)
    assert not src.has_instances and src.read_instances(2) is None and src.read_instances(0) is not None
    report = check_source(root)
    assert report.ok and report.summary["instances"]["samples"] == 2
    assert any("img2.png: no instance labels in instances/" in p for p in report.problems)


def test_mask_and_instances_that_disagree_are_a_warning(tmp_path: Path) -> None:
    root = instance_folder(tmp_path / "ds")
    save(root / "masks" / "img1.png", ((labels_of(2) != 0) * 255).astype(np.uint8))  # another image's objects
    report = check_source(root)
    assert report.ok
    assert [p.file for p in report.warnings] == [str(root.resolve() / "instances" / "img1.png")]
    assert "instance labels cover 90 pixels but the mask's foreground 84" in report.warnings[0].what


def test_imagej_float_and_negative_int_tiffs_are_accepted(tmp_path: Path) -> None:
    root = instance_folder(tmp_path / "ds")
    for i, dtype in ((0, np.float32), (1, np.int32)):
        (root / "instances" / f"img{i}.png").unlink()
        labels = labels_of(i).astype(np.int64) - (70000 if dtype == np.int32 else 0)
        tifffile.imwrite(root / "instances" / f"img{i}.tif", np.where(labels_of(i) == 0, 0, labels).astype(dtype))
    src = open_source(root)
    for i in (0, 1):
        assert sorted(np.unique(src.read_instances(i)).tolist()) == [0, 1, 2, 3]


BAD = {
    "float": (np.full((24, 24), 0.5, np.float32), "label image holds non-integer values (e.g. 0.5)"),
    "size": (np.ones((20, 24), np.uint16), "instance labels are 20x24 (HxW) but the image is 24x24"),
    "rgb": (np.ones((24, 24, 3), np.uint8), "label image has 3 channels, not one"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("masks", [True, False], ids=["with-masks", "derived"])
def test_bad_instance_labels_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, masks: bool
) -> None:
    root = instance_folder(tmp_path / "ds", masks=masks)
    array, what = BAD[case]
    if case == "size" and not masks:  # the derived mask is checked like any mask
        what = "mask is 20x24 (HxW) but its image is 24x24"
    bad = root / "instances" / "img1.tif"
    (root / "instances" / "img1.png").unlink()
    tifffile.imwrite(bad, array)
    before = snapshot(root)
    assert main(["data", "check", str(root)]) == 1
    err_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1 and err_lines[0].startswith(f"error: {bad.resolve()}: {what}"), err_lines
    with pytest.raises(UnetzooError, match=what.replace("(", r"\(").replace(")", r"\)")):
        src = open_source(root)
        src.read_instances(1) if masks else src.load(1)
    assert snapshot(root) == before


def test_to_instances_refuses_nan_and_strings() -> None:
    with pytest.raises(UnetzooError, match=r"x.tif: label image holds non-integer values \(e.g. nan\)"):
        to_instances(np.array([[np.nan, 1.0]]), "x.tif")
    with pytest.raises(UnetzooError, match="label image of dtype <U1"):
        to_instances(np.array([["a", "b"]]), "x.tif")
    with pytest.raises(UnetzooError, match=r"label image holds float ids beyond 2\^53 \(e.g. 1e\+20\)"):
        to_instances(np.array([[1e20, 1.0]]), "x.tif")


@pytest.mark.parametrize("kind", ["nuclei", "membranes"])
def test_synthetic_sources_have_instances(kind: str) -> None:
    src = open_source(f"synthetic:{kind}?n=3&size=128")
    assert src.has_instances
    for i in range(3):
        labels, (_, mask) = src.read_instances(i), src.load(i)
        np.testing.assert_array_equal(labels != 0, mask != 0)
        n = int(labels.max())
        assert n > 3 and set(np.unique(labels).tolist()) == set(range(n + 1))


def test_formats_without_instances_say_so(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    save(root / "images" / "a.png", gray_image(16, 16, seed=0))
    save(root / "masks" / "a.png", np.zeros((16, 16), np.uint8))
    src = open_source(root)
    assert not src.has_instances and src.read_instances(0) is None and src.instance_path(0) is None
    assert "instances" not in check_source(root).summary


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.uint64, np.float32, np.float64, np.bool_]),
        st.tuples(st.integers(1, 6), st.integers(1, 6)) | st.tuples(st.integers(1, 4), st.integers(1, 4), st.just(3)),
    )
)
def test_any_array_is_relabelled_or_refused_in_one_line(raw: np.ndarray) -> None:
    try:
        labels = to_instances(raw, "x.tif")
    except UnetzooError as exc:
        assert str(exc).startswith("x.tif: label image ") and "\n" not in str(exc)
        assert raw.ndim == 3 or raw.dtype.kind == "f"
        return
    assert labels.dtype == np.int32 and labels.shape == raw.shape
    np.testing.assert_array_equal(labels == 0, raw == 0)
    assert set(np.unique(labels).tolist()) | {0} == set(range(int(labels.max()) + 1))
