# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.data.RandomPairDataset: LD's fixed-length epochs of random image pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader
from monai.transforms import Randomizable

from ld_monai.data import RandomPairDataset


class AddNoise(Randomizable):
    """Tiny randomizable dictionary transform: adds one random number per key."""

    def randomize(self, data=None):
        self._v = self.R.uniform(size=2)

    def __call__(self, d):
        self.randomize()
        return {"image1": d["image1"] + self._v[0], "image2": d["image2"] + self._v[1]}


def _data(n=7):
    return [{"image": torch.full((1, 2, 2), float(i))} for i in range(n)]


def _items(ds):
    return [(float(x["image1"].flatten()[0]), float(x["image2"].flatten()[0])) for x in ds]


def test_random_pair_length_and_content():
    ds = RandomPairDataset(_data(), transform=None, length=50)
    assert len(ds) == 50
    items = _items(ds)
    assert len(items) == 50
    values = {v for pair in items for v in pair}
    assert values <= set(range(7)) and len(values) > 3  # draws from the whole set
    assert any(a == b for a, b in _items(RandomPairDataset(_data(2), None, length=40)))  # with replacement
    for item in ds:  # the index of each image's photograph, for the loss
        assert item["source_index"].tolist() == [item["image1"].flatten()[0], item["image2"].flatten()[0]]
    with pytest.raises(IndexError):
        ds[50]


def test_random_pair_fixed_is_identical_across_passes_and_instances():
    ds = RandomPairDataset(_data(), transform=AddNoise(), length=20, seed=3, fixed=True)
    first, second = _items(ds), _items(ds)
    assert first == second
    assert _items(RandomPairDataset(_data(), transform=AddNoise(), length=20, seed=3, fixed=True)) == first
    assert _items(RandomPairDataset(_data(), transform=AddNoise(), length=20, seed=4, fixed=True)) != first
    # order of access does not matter
    assert [_items([ds[i]])[0] for i in reversed(range(20))] == first[::-1]
    # the transform was reseeded per item: fractional parts (the noise) are the same per index, differ across items
    assert len({round(a % 1, 6) for a, _ in first}) > 1


def test_random_pair_unfixed_reproducible_with_set_random_state():
    ds = RandomPairDataset(_data(), transform=AddNoise(), length=30)
    ds.set_random_state(seed=11)
    a = _items(ds)
    b = _items(ds)
    assert a != b  # a new epoch draws new pairs
    ds.set_random_state(seed=11)
    assert _items(ds) == a
    other = RandomPairDataset(_data(), transform=AddNoise(), length=30, seed=5)
    other.set_random_state(seed=11)
    assert _items(other) == a


def test_random_pair_reseeds_transform():
    t = AddNoise()
    ds = RandomPairDataset(_data(), transform=t, length=5)
    ds.set_random_state(seed=1)
    s1 = t.R.get_state()[1].copy()
    ds.set_random_state(seed=2)
    s2 = t.R.get_state()[1].copy()
    ds.set_random_state(seed=1)
    assert np.array_equal(t.R.get_state()[1], s1) and not np.array_equal(s1, s2)


def test_random_pair_monai_dataloader_workers_reseed():
    ds = RandomPairDataset(_data(), transform=AddNoise(), length=16)
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    batches = [torch.cat([b["image1"].flatten(1)[:, 0], b["image2"].flatten(1)[:, 0]]) for b in loader]
    noise = torch.cat(batches) % 1
    # the two workers were reseeded differently by MONAI's worker_init_fn: no repeated batches
    assert len({tuple(b.tolist()) for b in batches}) == len(batches)
    assert len(set(noise.tolist())) > len(noise) // 2


def test_random_pair_invalid():
    with pytest.raises(ValueError, match="empty"):
        RandomPairDataset([], transform=None, length=3)
    with pytest.raises(ValueError, match="length"):
        RandomPairDataset(_data(), transform=None, length=0)


@pytest.mark.parametrize("fixed", [False, True])
def test_distinct_batch_draws_every_image_of_a_batch_once(fixed):
    batch = 3
    ds = RandomPairDataset(_data(9), transform=None, length=8 * batch, fixed=fixed, distinct_batch=batch)
    items = _items(ds)
    for start in range(0, len(items), batch):
        images = [v for pair in items[start : start + batch] for v in pair]
        assert len(set(images)) == 2 * batch  # 6 different images in every batch
    if fixed:
        assert _items(ds) == items  # the validation items do not change
    else:
        assert _items(ds) != items  # training batches are new each epoch


def test_distinct_batch_through_a_dataloader_with_workers():
    ds = RandomPairDataset(_data(8), transform=None, length=40, distinct_batch=4)
    for workers in (0, 2):
        for batch in DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers):
            images = torch.cat([batch["image1"], batch["image2"]]).flatten(1)[:, 0]
            assert len(set(images.tolist())) == 8


def test_distinct_batch_with_few_images_repeats_as_little_as_possible():
    ds = RandomPairDataset(_data(3), transform=None, length=4, distinct_batch=2)  # 4 images per batch from 3
    items = _items(ds)
    for start in (0, 2):
        images = [v for pair in items[start : start + 2] for v in pair]
        assert sorted(np.bincount(np.asarray(images, dtype=int), minlength=3)) == [1, 1, 2]
    # an epoch of a single batch draws new images each time it starts again at index 0
    single = RandomPairDataset(_data(50), transform=None, length=1, distinct_batch=1)
    assert len({single[0]["image1"].flatten()[0].item() for _ in range(10)}) > 1
    with pytest.raises(ValueError, match="distinct_batch"):
        RandomPairDataset(_data(3), transform=None, length=4, distinct_batch=0)
