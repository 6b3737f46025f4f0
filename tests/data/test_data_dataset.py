"""SegmentationDataset: tensors, patches, resize, and randomness reproducible from (seed, epoch, index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from datagen import gray_image, save
from torch.utils.data import DataLoader

from unetzoo.data import Preprocess, SegmentationDataset, build_augment, open_source
from unetzoo.data.patches import LOCATIONS, class_locations, random_patch
from unetzoo.data.source import Source
from unetzoo.errors import UnetzooError

SRC = open_source("synthetic:nuclei?n=6&size=40x56")


def make(**kwargs: object) -> SegmentationDataset:
    options = {"preprocess": Preprocess("zscore", channels=3), "augment": build_augment("default"), "seed": 3}
    return SegmentationDataset(SRC, SRC.ids, **{**options, **kwargs})


def test_tensors_full_image_and_patches() -> None:
    image, mask = make(augment=None)[0]
    assert image.dtype == torch.float32 and image.shape == (3, 40, 56)
    assert mask.dtype == torch.int64 and mask.shape == (40, 56)
    image, mask = make(patch_size=(32, 32))[1]
    assert image.shape == (3, 32, 32) and mask.shape == (32, 32)
    image, mask = make(patch_size=(64, 80))[2]  # larger than the image: reflection padding
    assert image.shape == (3, 64, 80) and set(mask.unique().tolist()) <= {0, 1}
    image, mask = make(resize=(20, 28), augment=None)[0]
    assert image.shape == (3, 20, 28) and mask.shape == (20, 28)
    gray = SegmentationDataset(SRC, SRC.ids[:2], Preprocess("minmax", channels=1), patch_size=(16, 16))
    assert gray[0][0].shape == (1, 16, 16) and 0 <= float(gray[0][0].min()) <= float(gray[0][0].max()) <= 1


def test_same_seed_epoch_index_same_sample() -> None:
    ds = make(patch_size=(32, 32))
    first = ds[4]
    assert all(torch.equal(a, b) for a, b in zip(first, make(patch_size=(32, 32))[4], strict=True))
    ds.set_epoch(1)
    assert not torch.equal(ds[4][0], first[0])
    ds.set_epoch(0)
    assert torch.equal(ds[4][0], first[0])
    assert not torch.equal(make(patch_size=(32, 32), seed=4)[4][0], first[0])


def test_cached_samples_equal_fresh_ones_and_survive_augmentation() -> None:
    cached, fresh = make(patch_size=(32, 32)), make(patch_size=(32, 32), cache_bytes=0)
    before = {k: tuple(a.copy() for a in cached.prepared(k)) for k in cached.indices}
    for epoch in range(3):  # every augmentation drawn on the cached arrays, three times over
        cached.set_epoch(epoch), fresh.set_epoch(epoch)
        for i in range(len(cached)):
            assert all(torch.equal(a, b) for a, b in zip(cached[i], fresh[i], strict=True))
    assert len(cached._prepared) == len(SRC.ids) and not fresh._prepared
    for k, (image, target) in cached._prepared.items():  # no transform wrote into the cache
        assert np.array_equal(image, before[k][0]) and np.array_equal(target, before[k][1])
    one = cached._prepared[cached.indices[0]]
    capped = make(cache_bytes=one[0].nbytes + one[1].nbytes)
    for i in range(len(capped)):
        capped[i]
    assert len(capped._prepared) == 1  # the cap holds


def test_an_epoch_longer_than_the_data_draws_every_repeat_afresh() -> None:
    from unetzoo.engine.sampling import EpochSampler

    ds = make(patch_size=(32, 32))
    sampler = EpochSampler(len(ds), samples=4 * len(ds), seed=0)
    draws = list(sampler)
    assert sorted(draws) == list(range(4 * len(ds)))  # four passes, each draw id once
    assert np.bincount(np.array(draws) % len(ds)).tolist() == [4] * len(ds)  # each sample four times
    images = [ds[i][0] for i in draws]
    distinct = {image.numpy().tobytes() for image in images}
    assert len(distinct) == len(images)  # no two draws alike: repeats get crops and augmentations of their own
    first, again = ds[1], ds[1 + len(ds)]
    assert not torch.equal(first[0], again[0])
    assert ds.prepared(ds.indices[1]) is ds.prepared(ds.indices[(1 + len(ds)) % len(ds)])  # the same sample


def test_workers_give_the_same_batches() -> None:
    def batches(workers: int, epoch: int) -> list[torch.Tensor]:
        ds = make(patch_size=(24, 24))
        ds.set_epoch(epoch)
        loader = DataLoader(ds, batch_size=3, num_workers=workers)
        return [torch.cat([x.flatten(), y.flatten().float()]) for x, y in loader]

    for epoch in (0, 2):
        serial, parallel = batches(0, epoch), batches(2, epoch)
        assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))


def test_persistent_workers_follow_set_epoch() -> None:
    ds = make(patch_size=(24, 24))
    loader = DataLoader(ds, batch_size=6, num_workers=1, persistent_workers=True)
    seen = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        seen.append(next(iter(loader))[0])
    ds.set_epoch(1)
    assert torch.equal(seen[1], torch.stack([ds[i][0] for i in range(6)]))
    assert not torch.equal(seen[0], seen[1])


def test_unknown_ids() -> None:
    with pytest.raises(UnetzooError, match="not in the dataset"):
        SegmentationDataset(SRC, ["ghost"])


def test_mask_values_survive_the_pipeline() -> None:
    ds = make(patch_size=(32, 32))
    for i in range(len(ds)):
        image, mask = ds[i]
        assert torch.isfinite(image).all()
        assert set(np.unique(mask.numpy())) <= {0, 1}


def sparse_folder(root: Path, n: int = 2) -> Source:
    """Images of 200x200 with one 6x6 object each: a random 32x32 patch rarely holds it."""
    for i in range(n):
        mask = np.zeros((200, 200), np.uint8)
        mask[150 + i : 156 + i, 30:36] = 255
        save(root / "images" / f"img{i}.png", gray_image(200, 200, seed=i))
        save(root / "masks" / f"img{i}.png", mask)
    return open_source(root)


def test_a_third_of_patches_are_centred_on_foreground(tmp_path: Path) -> None:
    src = sparse_folder(tmp_path / "ds")

    def share_with_object(foreground_share: float) -> float:
        ds = SegmentationDataset(src, src.ids, patch_size=(32, 32), foreground_share=foreground_share, seed=1)
        return float(np.mean([bool(ds[i][1].any()) for i in range(300)]))

    assert 0.25 <= share_with_object(1 / 3) <= 0.45  # centred third, plus the few random patches that hit it
    assert share_with_object(0.0) <= 0.12
    assert share_with_object(1.0) == 1.0


def test_centred_patch_holds_its_centre_inside_the_image() -> None:
    image = np.arange(50 * 60, dtype=np.float32).reshape(50, 60, 1)
    mask = np.arange(50 * 60).reshape(50, 60)
    rng = np.random.default_rng(0)
    for centre in ((0, 0), (25, 30), (49, 59), (3, 57)):
        _, patch = random_patch(image, mask, (16, 20), rng, centre)
        assert patch.shape == (16, 20) and mask[centre] in patch
    _, patch = random_patch(image, mask, (64, 20), rng, (10, 5))  # taller than the image: padded, still inside
    assert patch.shape == (64, 20) and mask[10, 5] in patch


def test_class_locations_keep_rare_classes() -> None:
    target = np.zeros((120, 120), np.int64)
    target[:60] = 1
    target[100:102, 100:102] = 2
    found = class_locations(target, seed=0)
    assert [len(f) for f in found] == [LOCATIONS, 4]
    assert (target[tuple(found[0].T)] == 1).all() and (target[tuple(found[1].T)] == 2).all()
