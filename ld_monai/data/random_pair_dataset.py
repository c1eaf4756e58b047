# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The random-pair dataset of LD pretraining: fixed-length epochs of two randomly drawn images per item."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.transforms import Randomizable
from monai.utils import MAX_SEED
from torch.utils.data import Dataset

from ld_monai.data.ld_batch import LDKeys

__all__ = ["RandomPairDataset"]


class RandomPairDataset(Dataset, Randomizable):
    """Fixed-length dataset whose every item is two images drawn at random, as in LD pretraining.

    Item ``i`` draws two indices ``a, b`` uniformly *with replacement* from ``range(len(data))`` and returns
    ``transform({"image1": data[a]["image"], "image2": data[b]["image"], "source_index": tensor([a, b])})`` (the
    dictionary itself when ``transform`` is None); ``source_index`` tells the loss which images are copies of one
    photograph. This is the research code's sampling (Chen et al., arXiv 2108.09440): an epoch
    is ``length`` pairs whatever the folder size, so a single image is a valid (if degenerate) training set.

    With replacement, one photograph can appear twice in a batch under two base transforms: a negative pair of
    identical content that only the position in the crop can separate, which teaches a position code. With
    ``distinct_batch=B`` (the DataLoader's batch size, ``shuffle=False``) the items of each block of ``B``
    consecutive indices draw their ``2B`` images *without* replacement: every image of a batch is a different one
    when the data has at least ``2B`` images (otherwise each appears at most ``ceil(2B / len(data))`` times).

    Randomness: training items (``fixed=False``) draw from ``self.R``. The dataset is a MONAI
    :class:`~monai.transforms.Randomizable`, so MONAI's ``DataLoader`` (its ``worker_init_fn``) reseeds it
    per worker; :meth:`set_random_state` also reseeds ``transform`` and, unless ``data`` is a plain list or
    tuple, the randomizable parts of ``data``. With ``fixed=True`` (validation) item ``i`` uses
    ``np.random.RandomState(seed + i)`` for the indices and calls ``transform.set_random_state(seed + i)``
    first, so the validation items are identical in every epoch, worker and process.

    The images of ``data`` are passed to ``transform`` as they are (no copy): like any MONAI transform it
    must not modify its input in place, or cached images would change.

    Args:
        data: sequence of dictionaries with an ``"image"`` entry, e.g. a ``CacheDataset`` of preprocessed images.
        transform: callable applied to the pair dictionary (keys ``"image1"``, ``"image2"``), or None.
        length: number of items (pairs) per epoch.
        seed: base seed of the fixed items.
        fixed: make item ``i`` a deterministic function of ``seed + i`` (with ``distinct_batch``, the images of a
            block come from ``seed + block``).
        distinct_batch: the batch size within which images are drawn without replacement; None draws every item
            independently (the research code).

    Raises:
        ValueError: ``data`` is empty or ``length < 1``.

    Example::

        >>> ds = RandomPairDataset([{"image": torch.rand(3, 8, 8)}] * 5, transform=None, length=100)
        >>> len(ds), sorted(ds[0])
        (100, ['image1', 'image2', 'source_index'])
    """

    def __init__(
        self,
        data: Sequence[Mapping[Hashable, Any]],
        transform: Callable | None,
        length: int,
        seed: int = 0,
        fixed: bool = False,
        distinct_batch: int | None = None,
    ) -> None:
        if len(data) == 0:
            raise ValueError("RandomPairDataset needs at least one image, got an empty `data`.")
        if int(length) < 1:
            raise ValueError(f"RandomPairDataset length must be >= 1, got {length}.")
        if distinct_batch is not None and int(distinct_batch) < 1:
            raise ValueError(f"distinct_batch must be None or >= 1, got {distinct_batch}.")
        self.data = data
        self.transform = transform
        self.length = int(length)
        self.seed = int(seed)
        self.fixed = bool(fixed)
        self.distinct_batch = None if distinct_batch is None else int(distinct_batch)
        self._pair: tuple[int, int] = (0, 0)
        self._block: tuple[int, np.ndarray] = (-1, np.zeros(0, dtype=np.int64))
        self.set_random_state(seed=self.seed)

    def set_random_state(
        self, seed: int | None = None, state: np.random.RandomState | None = None
    ) -> RandomPairDataset:
        """Reseed the pair sampling, then ``transform`` (and ``data``'s random parts) from the new stream."""
        super().set_random_state(seed=seed, state=state)
        if self.transform is not None and hasattr(self.transform, "set_random_state"):
            self.transform.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        if not isinstance(self.data, (list, tuple)):
            from monai.data.utils import set_rnd

            set_rnd(self.data, seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def randomize(self, data: Any = None) -> None:
        """Draw the two image indices of the next item from ``self.R``."""
        n = len(self.data)
        self._pair = (int(self.R.randint(n)), int(self.R.randint(n)))

    def _block_images(self, rng: np.random.RandomState) -> np.ndarray:
        """``2 * distinct_batch`` image indices, without replacement as far as the data allows."""
        n, count = len(self.data), 2 * self.distinct_batch
        return np.concatenate([rng.permutation(n) for _ in range(-(-count // n))])[:count]

    def _distinct_pair(self, index: int) -> tuple[int, int]:
        block, slot = divmod(index, self.distinct_batch)
        # a new batch (batches are fetched in index order; a training batch redraws at its first item, also when
        # an epoch of one batch starts again at index 0)
        if self._block[0] != block or (slot == 0 and not self.fixed):
            rng = np.random.RandomState((self.seed + block) % MAX_SEED) if self.fixed else self.R
            self._block = (block, self._block_images(rng))
        images = self._block[1]
        return int(images[2 * slot]), int(images[2 * slot + 1])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Any:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for RandomPairDataset of length {self.length}.")
        index = index % self.length
        if self.fixed:
            item_seed = (self.seed + index) % MAX_SEED
            if self.distinct_batch:
                a, b = self._distinct_pair(index)
            else:
                rng = np.random.RandomState(item_seed)
                n = len(self.data)
                a, b = int(rng.randint(n)), int(rng.randint(n))
            if self.transform is not None and hasattr(self.transform, "set_random_state"):
                self.transform.set_random_state(seed=item_seed)
        elif self.distinct_batch:
            a, b = self._distinct_pair(index)
        else:
            self.randomize()
            a, b = self._pair
        pair = {LDKeys.IMAGE1: self._image(a), LDKeys.IMAGE2: self._image(b), LDKeys.SOURCE_INDEX: torch.tensor([a, b])}
        return pair if self.transform is None else self.transform(pair)

    def _image(self, idx: int) -> Any:
        item = self.data[idx]
        if "image" not in item:
            raise KeyError(f"data item {idx} has no 'image' entry (keys: {list(item)}).")
        return item["image"]
