"""The torch ``Dataset``: load -> resample -> preprocess (whole image) -> random patch -> augment -> tensors.

Randomness is reproducible with any number of DataLoader workers: sample ``i`` of epoch ``e`` draws everything
(patch position, augmentation) from ``np.random.default_rng([seed, e, i])``. Call :meth:`set_epoch` before
iterating each epoch; the epoch lives in shared memory, so persistent workers see it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from unetzoo.data.augment import Transform
from unetzoo.data.instances import require_instances
from unetzoo.data.patches import FOREGROUND_SHARE, class_locations, random_patch
from unetzoo.data.preprocess import Preprocess
from unetzoo.data.source import Source
from unetzoo.errors import UnetzooError
from unetzoo.utils.resample import Resampling, apply_to_image, resize_labels

CACHE_BYTES = 2 << 30
"""Default memory for prepared samples (:class:`SegmentationDataset`): DSB 2018's 519 images take 1 GiB."""


class TargetEncoder(Protocol):
    """Turns instance labels into the class map a network learns (an instance head, :mod:`unetzoo.instances`)."""

    @property
    def classes(self) -> int: ...

    def encode(self, labels: np.ndarray) -> np.ndarray: ...


class SegmentationDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Samples ``ids`` of ``src`` as ``(FloatTensor CxHxW, LongTensor HxW)``.

    Args:
        src: an opened source.
        ids: the sample ids to serve (e.g. ``split["train"]``).
        preprocess: channel conversion + normalization (default: keep channels, per-image z-score).
        augment: a transform from :func:`unetzoo.data.build_augment`, or ``None``.
        patch_size: random ``(H, W)`` crop per sample (mirror-padded if the image is smaller); ``None``: whole image.
        resampling: the run's working scale (:class:`unetzoo.utils.resample.Resampling`): every image is resampled
            (antialiased linear filter) and every mask (per-class area vote) before cropping, exactly as the
            inference engines resample their inputs.
        resize: shorthand for ``Resampling("resize", size=resize)``.
        seed: base seed of all sample randomness.
        targets: an instance head: each sample's target is its encoded instance labels (encoded at the stored
            size, then resampled like a mask) instead of its mask.
        foreground_share: share of patches centred on a foreground pixel where the image is larger than the patch
            (:data:`FOREGROUND_SHARE`); 0: every patch at a uniformly random position.
        cache_bytes: each sample's prepared whole image and target (read, resampled, normalized, encoded: all
            deterministic) are kept in memory until they fill this many bytes, so later epochs only crop and
            augment; samples past the cap are prepared afresh each time. Each DataLoader worker keeps its own.
    """

    def __init__(
        self,
        src: Source,
        ids: Sequence[str],
        preprocess: Preprocess | None = None,
        augment: Transform | None = None,
        patch_size: tuple[int, int] | None = None,
        resampling: Resampling | None = None,
        resize: tuple[int, int] | None = None,
        seed: int = 0,
        targets: TargetEncoder | None = None,
        cache_bytes: int = CACHE_BYTES,
        foreground_share: float = FOREGROUND_SHARE,
    ) -> None:
        index = {sample: k for k, sample in enumerate(src.ids)}
        unknown = [sample for sample in ids if sample not in index]
        if unknown:
            raise UnetzooError(
                f"{src.spec}: {len(unknown)} requested ids are not in the dataset (e.g. {unknown[0]!r}); "
                "use ids from src.ids or a split made for this data"
            )
        self.src = src
        self.ids = list(ids)
        self.indices = [index[sample] for sample in ids]
        self.preprocess = preprocess or Preprocess(normalize="zscore")
        self.augment = augment
        self.patch_size = tuple(patch_size) if patch_size else None
        self.resampling = Resampling("resize", size=resize) if resize else (resampling or Resampling())
        self.seed = seed
        self.targets = targets
        self.cache_bytes = cache_bytes
        self.foreground_share = foreground_share
        self._locations: dict[int, list[np.ndarray]] = {}
        self._prepared: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cached_bytes = 0
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call before iterating a DataLoader)."""
        self._epoch[0] = epoch

    def rng(self, i: int) -> np.random.Generator:
        """The generator of sample ``i`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, i])

    def target(self, k: int, mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Sample ``k``'s target at ``shape``: its mask, or its encoded instance labels."""
        if self.targets is None:
            return resize_labels(mask, shape, self.src.classes)
        return resize_labels(self.targets.encode(require_instances(self.src, k)), shape, self.targets.classes)

    def prepared(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``k`` before cropping: its normalized ``HxWxC`` float32 image and its target at the working
        scale, from the cache when it is there."""
        if k in self._prepared:
            return self._prepared[k]
        image, mask = self.src.load(k)
        if not self.resampling.is_native:
            image = apply_to_image(image, self.resampling)
        pair = self.preprocess.transform(image), self.target(k, mask, image.shape[:2])
        size = pair[0].nbytes + pair[1].nbytes
        if self._cached_bytes + size <= self.cache_bytes:
            self._prepared[k] = pair
            self._cached_bytes += size
        return pair

    def centre(self, k: int, target: np.ndarray, rng: np.random.Generator) -> tuple[int, int] | None:
        """A foreground pixel of sample ``k`` to centre its patch on, with probability ``foreground_share`` when
        the image is larger than the patch; None: a uniformly random patch."""
        assert self.patch_size is not None
        larger = target.shape[0] > self.patch_size[0] or target.shape[1] > self.patch_size[1]
        if not larger or rng.random() >= self.foreground_share:
            return None
        if k not in self._locations:
            self._locations[k] = class_locations(target, self.seed + k)
        classes = self._locations[k]
        if not classes:
            return None
        pixels = classes[int(rng.integers(len(classes)))]
        y, x = pixels[int(rng.integers(len(pixels)))]
        return int(y), int(x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``i``: sample ``i mod len(self)``, cropped and augmented by the stream of ``i`` (a sampler that
        draws a sample twice in one epoch passes ``i + len(self)`` the second time:
        :class:`unetzoo.engine.sampling.EpochSampler`)."""
        k = self.indices[i % len(self.indices)]
        image, mask = self.prepared(k)
        rng = self.rng(i)
        if self.patch_size:
            image, mask = random_patch(image, mask, self.patch_size, rng, self.centre(k, mask, rng))
        if self.augment is not None:
            image, mask = self.augment(image, mask, rng)
        image = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
        return torch.from_numpy(image), torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64))
