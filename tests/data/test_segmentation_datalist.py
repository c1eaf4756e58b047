# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import json

import pytest

from ld_monai.data import label_fraction_subset, load_segmentation_datalist


def write_datalist(tmp_path, entries):
    (tmp_path / "img").mkdir()
    for name in ("a", "b"):
        (tmp_path / "img" / f"{name}.png").write_bytes(b"x")
        (tmp_path / "img" / f"{name}_lung.png").write_bytes(b"x")
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"training": entries, "test": []}))
    return path


def test_paths_resolve_relative_to_the_datalist_and_names_default_to_the_stem(tmp_path):
    path = write_datalist(tmp_path, [{"image": "img/a.png", "lung": "img/a_lung.png"}])
    (item,) = load_segmentation_datalist(path, "training", ["lung"])
    assert item["image"] == str(tmp_path / "img" / "a.png") and item["lung"] == str(tmp_path / "img" / "a_lung.png")
    assert item["name"] == "a"


def test_every_missing_file_and_key_is_reported_at_once(tmp_path):
    path = write_datalist(
        tmp_path, [{"image": "img/a.png", "lung": "img/gone.png"}, {"image": "img/missing.png", "lung": "img/b_lung.png"},
                   {"image": "img/b.png"}],
    )
    with pytest.raises(FileNotFoundError) as error:
        load_segmentation_datalist(path, "training", ["lung"])
    message = str(error.value)
    assert "gone.png" in message and "missing.png" in message and "entry 2 has no 'lung'" in message


def test_missing_split_empty_split_and_missing_datalist(tmp_path):
    path = write_datalist(tmp_path, [{"image": "img/a.png"}])
    with pytest.raises(KeyError, match="no 'validation' split"):
        load_segmentation_datalist(path, "validation")
    with pytest.raises(ValueError, match="empty"):
        load_segmentation_datalist(path, "test")
    with pytest.raises(FileNotFoundError, match="ld-monai prepare"):
        load_segmentation_datalist(tmp_path / "nope.json", "training")


def test_label_fractions_are_seeded_nested_and_never_empty():
    items = [{"image": str(i)} for i in range(16)]
    quarter, half = label_fraction_subset(items, 0.25, seed=3), label_fraction_subset(items, 0.5, seed=3)
    assert len(quarter) == 4 and len(half) == 8
    assert all(item in half for item in quarter)
    assert quarter == label_fraction_subset(items, 0.25, seed=3) != label_fraction_subset(items, 0.25, seed=4)
    assert [int(i["image"]) for i in quarter] == sorted(int(i["image"]) for i in quarter)
    assert len(label_fraction_subset(items[:2], 0.1)) == 1
    assert label_fraction_subset(items, 1.0) == items
    with pytest.raises(ValueError, match="label fraction"):
        label_fraction_subset(items, 0)
