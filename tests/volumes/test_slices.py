"""Volumes as 2D samples: slicing along each axis, normalisation, crop, splits by case, slice selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unetzoo.data import check_source, open_source
from unetzoo.errors import UnetzooError
from unetzoo.volumes import brain_case, parse_brain_spec, write_dataset
from unetzoo.volumes.intensity import WINDOWS, apply_window, parse_window, zscore_nonzero
from unetzoo.volumes.slices import SliceOptions, VolumeSlices, centre_crop, uncrop
from unetzoo.volumes.synthetic import REGIONS

SPEC = "synthetic:brain?n=4&size=20x24x28&modalities=4&seed=3"


def test_slices_along_each_axis_stack_back_to_the_volume() -> None:
    case = brain_case(parse_brain_spec(SPEC), 1)
    expected = zscore_nonzero(case.image)
    for axis, dim in (("z", 0), ("y", 1), ("x", 2)):
        source = VolumeSlices(SPEC, SliceOptions(axis=axis))
        ids = source.slices_of(["brain_0001"])
        assert len(ids) == case.label.shape[dim] and ids[0] == f"brain_0001:{axis}000"
        index = {sid: i for i, sid in enumerate(source.ids)}
        images = np.stack([source.read_image(index[s]) for s in ids])  # (n, h, w, C)
        masks = np.stack([source.read_mask(index[s]) for s in ids])
        np.testing.assert_array_equal(np.moveaxis(masks, 0, dim), case.label)
        np.testing.assert_allclose(np.moveaxis(images.transpose(3, 0, 1, 2), 1, 1 + dim), expected, rtol=1e-6)


def test_nonzero_zscore_and_windows() -> None:
    image = np.zeros((2, 4, 4, 4), np.int16)
    image[:, 1:3, 1:3, 1:3] = np.arange(16, dtype=np.int16).reshape(2, 2, 2, 2) * 10
    out = zscore_nonzero(image)
    body = (image != 0).any(axis=0)
    assert (out[:, ~body] == 0).all()
    for c in range(2):
        assert abs(out[c][body].mean()) < 1e-5 and abs(out[c][body].std() - 1) < 1e-5
    assert parse_window("lung") == WINDOWS["lung"] == (-600.0, 1500.0)
    assert parse_window("40,400") == (40.0, 400.0)
    np.testing.assert_allclose(apply_window(np.array([-2000, -160, 40, 240, 3000]), (40, 400)), [0, 0, 0.5, 1, 1])
    with pytest.raises(UnetzooError, match="--window 'wide'"):
        parse_window("wide")


def test_centre_crop_pads_and_uncrop_restores() -> None:
    array = np.arange(2 * 6 * 9).reshape(2, 6, 9)
    cropped = centre_crop(array, (8, 5))  # taller than the array: padded; narrower: cut
    assert cropped.shape == (2, 8, 5) and (cropped[:, 0] == 0).all()
    np.testing.assert_array_equal(cropped[:, 1:7], array[:, :, 2:7])
    back = uncrop(cropped, (8, 5), (6, 9))
    np.testing.assert_array_equal(back[:, :, 2:7], array[:, :, 2:7])
    assert (back[:, :, :2] == 0).all() and (back[:, :, 7:] == 0).all()


def test_source_reports_regions_crop_and_checks_clean(tmp_path: Path) -> None:
    spec = parse_brain_spec(SPEC)
    root = write_dataset(tmp_path / "Dataset502_Brain", [brain_case(spec, i) for i in range(2)],
                         channel_names=spec.channel_names, labels=REGIONS, regions_class_order=[1, 2, 3])  # fmt: skip
    source = open_source(root, slices=SliceOptions(crop=(16, 16)))
    assert isinstance(source, VolumeSlices) and source.format == "volumes"
    assert source.cases == ["brain_0000", "brain_0001"] and len(source) == 40
    assert source.regions is not None and source.regions.ids == ((1, 2, 3), (2, 3), (3,))
    assert source.classes == 4 and source.in_channels == 4
    image, mask = source.load(10)
    assert image.shape == (16, 16, 4) and mask.shape == (16, 16)
    report = check_source(source)
    assert report.ok and not report.warnings, report.problems
    assert report.summary["empty_masks"] > 0  # slices outside the tumour: counted, not warned about


def test_training_slices_keep_foreground_and_stay_in_their_cases() -> None:
    source = VolumeSlices(SPEC)
    cases = ["brain_0000", "brain_0002"]
    chosen = source.training_slices(cases, seed=1)
    assert {sid.split(":")[0] for sid in chosen} <= set(cases)
    fg = {f"{c}:z{k:03d}" for c in cases for k in np.flatnonzero(source.foreground(c))}
    assert fg and fg <= set(chosen)
    background = [sid for sid in chosen if sid not in fg]
    assert 0 < len(background) <= len(fg)
    assert chosen == source.training_slices(cases, seed=1)


def test_volume_flags_are_refused_on_2d_data(tmp_path: Path) -> None:
    from unetzoo.engine.train import train

    with pytest.raises(UnetzooError, match="--slice-axis, --crop apply to volume data"):
        train(data="synthetic:nuclei?n=4&size=32", slice_axis="y", crop=(16, 16), epochs=1, out=str(tmp_path / "r"),
              progress=False)  # fmt: skip


def test_pickled_source_leaves_its_cache_behind() -> None:
    import pickle

    source = VolumeSlices(SPEC)
    image = source.read_image(5)
    copy = pickle.loads(pickle.dumps(source))
    assert len(source._cache) == 1 and len(copy._cache) == 0
    np.testing.assert_array_equal(copy.read_image(5), image)


def test_per_slice_nonzero_zscore_matches_its_runtime_twin() -> None:
    from unetzoo.data import Preprocess
    from unetzoo.deploy.preprocess import preprocess

    source = VolumeSlices(SPEC, SliceOptions(normalize=False))
    raw = source.read_image(source.ids.index("brain_0000:z010"))
    record = Preprocess("nonzero").to_dict()
    ours = Preprocess.from_dict(record)(raw)
    np.testing.assert_array_equal(ours, preprocess(raw, record))
    body = (raw != 0).any(axis=2)
    assert (ours[:, ~body] == 0).all()
    assert np.allclose(ours[:, body].mean(axis=1), 0, atol=1e-5) and np.allclose(ours[:, body].std(axis=1), 1)
