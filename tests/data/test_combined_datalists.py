# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Several prepared datalists in one training run: items tagged with their datalist, test splits kept apart,
the combination recorded."""

from __future__ import annotations

import json

import pytest

from ld_monai.data import combine_segmentation_datalists, record_datalists


def write_datalist(folder, splits):
    """A datalist in ``folder`` whose splits name (empty) image files ``<name>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    content = {}
    for split, names in splits.items():
        for name in names:
            (folder / f"{name}.png").write_bytes(b"x")
        content[split] = [{"image": f"{name}.png", "name": name} for name in names]
    path = folder / "datalist.json"
    path.write_text(json.dumps(content))
    return path


def test_training_items_of_every_datalist_in_order_tagged_with_their_file(tmp_path):
    drive = write_datalist(tmp_path / "drive", {"training": ["d1", "d2"], "validation": ["d3"], "test": ["d4"]})
    stare = write_datalist(tmp_path / "stare", {"training": ["s1"], "test": ["s2"]})
    items = combine_segmentation_datalists([drive, stare], "training")
    assert [item["name"] for item in items] == ["d1", "d2", "s1"]
    assert [item["datalist"] for item in items] == [str(drive)] * 2 + [str(stare)]
    assert items[2]["image"] == str(tmp_path / "stare" / "s1.png")
    with pytest.raises(KeyError, match="validation"):  # a split that one datalist lacks is an error, as for one
        combine_segmentation_datalists([drive, stare], "validation")


def test_a_test_image_of_one_datalist_may_not_train_through_another(tmp_path):
    drive = write_datalist(tmp_path / "drive", {"training": ["d1"], "test": ["d4"]})
    other = tmp_path / "other"
    other.mkdir()
    (other / "datalist.json").write_text(json.dumps({"training": [{"image": "../drive/d4.png"}], "test": []}))
    with pytest.raises(ValueError, match="test images of a combined datalist.*d4.png"):
        combine_segmentation_datalists([drive, other / "datalist.json"], "training")
    with pytest.raises(ValueError, match="given twice"):
        combine_segmentation_datalists([drive, tmp_path / "drive" / "datalist.json"], "training")


def test_record_counts_each_datalists_items_per_split(tmp_path):
    drive = write_datalist(tmp_path / "drive", {"training": ["d1", "d2"], "validation": ["d3"], "test": ["d4"]})
    stare = write_datalist(tmp_path / "stare", {"training": ["s1"], "validation": ["s3"], "test": ["s2"]})
    splits = {split: combine_segmentation_datalists([drive, stare], split) for split in ("training", "validation")}
    record_datalists(tmp_path / "run" / "training_data.json", splits)
    record = json.loads((tmp_path / "run" / "training_data.json").read_text())
    assert record["datalists"] == {str(drive): {"training": 2, "validation": 1},
                                   str(stare): {"training": 1, "validation": 1}}
    assert record["items"] == {"training": ["d1", "d2", "s1"], "validation": ["d3", "s3"]}
