# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.data.image_folder: datalists, the fail-fast file check and RandomPairDataset."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai.data import DataLoader
from monai.transforms import Randomizable
from ld_monai.data import RandomPairDataset, check_image_files, image_folder_datalist


def _png(path: Path, size=(32, 24), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(len(str(path)))
    channels = {"RGB": 3, "RGBA": 4, "P": 3}.get(mode)
    shape = (size[1], size[0]) if channels is None else (size[1], size[0], channels)
    Image.fromarray(rng.randint(0, 255, shape, dtype=np.uint8)).convert(mode).save(path)
    return path


@pytest.fixture()
def folder(tmp_path):
    _png(tmp_path / "b.png")
    _png(tmp_path / "a.JPG")
    _png(tmp_path / "sub" / "deeper" / "c.jpeg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub" / "d.PNG").write_bytes((tmp_path / "b.png").read_bytes())
    return tmp_path


def test_datalist_sorted_filtered_absolute(folder):
    dl = image_folder_datalist(folder)
    paths = [d["image"] for d in dl]
    assert paths == sorted(paths)
    assert all(os.path.isabs(p) for p in paths)
    names = sorted(Path(p).name for p in paths)
    assert names == ["a.JPG", "b.png", "c.jpeg", "d.PNG"]  # .txt dropped, extensions case-insensitive, recursive
    assert all(set(d) == {"image"} for d in dl)


def test_datalist_pattern_extensions_key(folder):
    dl = image_folder_datalist(folder, pattern="*", extensions=(".png",), key="img")
    assert [Path(d["img"]).name for d in dl] == ["b.png"]


def test_datalist_missing_and_empty_dir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        image_folder_datalist(missing)
    afile = tmp_path / "file.png"
    afile.write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        image_folder_datalist(afile)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError) as err:
        image_folder_datalist(empty, pattern="**/*.x*")
    msg = str(err.value)
    assert str(empty) in msg and "**/*.x*" in msg and ".png" in msg


def test_check_image_files_reports_every_bad_file(tmp_path):
    good = _png(tmp_path / "good.png", size=(64, 64))
    good_rgba = _png(tmp_path / "rgba.png", size=(64, 64), mode="RGBA")
    good_palette = _png(tmp_path / "pal.png", size=(64, 64), mode="P")
    truncated = _png(tmp_path / "truncated.png", size=(64, 64))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "text.png"
    text.write_text("hello, I am not a PNG")
    small = _png(tmp_path / "small.png", size=(20, 70))
    grey = _png(tmp_path / "grey.png", size=(64, 64), mode="L")
    datalist = [{"image": str(p)} for p in (good, good_rgba, good_palette, truncated, text, small, grey)]

    with pytest.raises(ValueError) as err:
        check_image_files(datalist, min_size=32, num_channels=3)
    msg = str(err.value)
    for bad in (truncated, text, small, grey):
        assert str(bad) in msg
    for ok in (good, good_rgba, good_palette):
        assert str(ok) not in msg
    assert "4 of 7" in msg
    assert "20x70" in msg  # the size found is reported
    assert "1 channel" in msg

    # good files pass; without a channel requirement the grey image passes too
    check_image_files([{"image": str(p)} for p in (good, good_rgba, good_palette)], min_size=(64, 64), num_channels=3)
    check_image_files([{"image": str(grey)}, {"image": str(small)}], min_size=(16, 16))
    check_image_files([{"image": str(grey)}], num_channels=1)
    check_image_files([{"image": str(grey)}], min_size=64)


def test_check_image_files_missing_key_file_and_empty(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        check_image_files([])
    with pytest.raises(ValueError) as err:
        check_image_files([{"image": str(tmp_path / "gone.png")}, {"label": "x"}])
    assert "gone.png" in str(err.value) and "file not found" in str(err.value) and "no key 'image'" in str(err.value)


def test_check_image_files_nifti_via_monai(tmp_path):
    nib = pytest.importorskip("nibabel")
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 30), dtype=np.float32), np.eye(4)), str(path))
    check_image_files([{"image": str(path)}], min_size=(40, 30), num_channels=1)
    with pytest.raises(ValueError, match="40x30"):
        check_image_files([{"image": str(path)}], min_size=35)


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
