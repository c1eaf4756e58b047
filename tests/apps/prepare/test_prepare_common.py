# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the shared helpers of ld_monai.apps.prepare: labels, FOV masks, seeded splits, datalist writing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ld_monai.apps.prepare.common import (
    RawFiles,
    binary_label,
    derive_fov_mask,
    make_datalist,
    make_entry,
    split_off,
    union_label,
    write_datalist,
)
from tests.apps.prepare.synthetic import fundus, fundus_disc, load, save, shape


@pytest.mark.parametrize("values", [(0, 255), (0, 1)])
def test_binary_label_used_as_is(tmp_path, values):
    raw = save(shape((20, 16), 0, values), tmp_path / "label.png")
    assert binary_label(raw, tmp_path / "derived.png", size=(20, 16)) == raw
    assert not (tmp_path / "derived.png").exists()


def test_binary_label_derived(tmp_path):
    target = shape((20, 16), 1) > 0
    # a colour annotation (red on black), a 0/76 grey mask, an antialiased 8-bit mask
    red = np.zeros((16, 20, 3), np.uint8)
    red[target, 0] = 255
    grey = np.where(target, 76, 0).astype(np.uint8)
    soft_edges = np.where(target, 250, 3).astype(np.uint8)
    soft_edges[0, 0] = 120
    for i, array in enumerate([red, grey, soft_edges]):
        derived = binary_label(save(array, tmp_path / f"raw{i}.tif"), tmp_path / f"d{i}.png", size=(20, 16))
        assert derived == tmp_path / f"d{i}.png"
        out = load(derived)
        assert out.dtype == np.uint8 and set(np.unique(out).tolist()) == {0, 255}
        np.testing.assert_array_equal(out > 0, target)


def test_binary_label_soft_majority(tmp_path):
    soft = np.array([[0, 64, 128], [191, 255, 0]], np.uint8)
    out = load(binary_label(save(soft, tmp_path / "soft.png"), tmp_path / "d.png", soft=True))
    np.testing.assert_array_equal(out, [[0, 0, 255], [255, 255, 0]])


def test_binary_label_refuses_what_is_not_a_mask(tmp_path):
    photo = save(fundus(), tmp_path / "photo.png")
    with pytest.raises(ValueError, match="photo.png.*colour picture"):
        binary_label(photo, tmp_path / "d.png")
    ramp = save(np.arange(0, 40000, 100, dtype=np.uint16).reshape(20, 20), tmp_path / "ramp.png")
    with pytest.raises(ValueError, match="ramp.png: cannot binarise a label with 400 distinct values"):
        binary_label(ramp, tmp_path / "d.png")
    label = save(shape((20, 16), 0), tmp_path / "label.png")
    with pytest.raises(ValueError, match="label.png: size 20x16 differs from the 21x16 of its image"):
        binary_label(label, tmp_path / "d.png", size=(21, 16))
    assert not (tmp_path / "d.png").exists()


def test_union_label(tmp_path):
    left, right = shape((20, 16), 1), shape((20, 16), 2)
    out = union_label([save(left, tmp_path / "l.png"), save(right, tmp_path / "r.png")], tmp_path / "u.png")
    np.testing.assert_array_equal(load(out) > 0, (left > 0) | (right > 0))


def test_derive_fov_mask(tmp_path):
    out = load(derive_fov_mask(save(fundus((40, 36)), tmp_path / "photo.png"), tmp_path / "fov.png"))
    assert set(np.unique(out).tolist()) == {0, 255}
    np.testing.assert_array_equal(out > 0, fundus_disc((40, 36)))  # hole filled, corner blob left out
    black = save(np.full((8, 8, 3), 20, np.uint8), tmp_path / "black.png")
    with pytest.raises(ValueError, match="black.png: no field of view"):
        derive_fov_mask(black, tmp_path / "fov2.png")


def test_split_off_seeded_grouped():
    items = [{"name": f"{i:02d}", "patient": str(i // 3)} for i in range(30)]
    rest, chosen = split_off(items, 0.2, seed=0)
    assert len(chosen) == 6 and len(rest) == 24 and not {e["name"] for e in rest} & {e["name"] for e in chosen}
    assert split_off(items, 0.2, seed=0) == (rest, chosen)
    assert split_off(items, 0.2, seed=1)[1] != chosen
    by_patient = lambda e: e["patient"]  # noqa: E731
    rest, chosen = split_off(items, 0.25, seed=0, group=by_patient)
    assert len({by_patient(e) for e in chosen}) == 3 and len(chosen) == 9  # 2.5 patients rounds half up to 3
    assert not {by_patient(e) for e in rest} & {by_patient(e) for e in chosen}
    assert split_off(items, 0.0, seed=0) == (items, [])
    assert len(split_off(items[:2], 0.01, seed=0)[1]) == 1  # at least one when fraction > 0 ...
    assert len(split_off(items[:2], 0.9, seed=0)[0]) == 1  # ... and never all


def test_make_datalist_relative_posix_sorted(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out" / "deep"
    image = save(fundus(), raw / "a b" / "img.png")
    label = save(shape((40, 36), 0), raw / "lab.png")
    entries = [make_entry(out, name, image, {"vessel": label}, fov=True) for name in ("b", "a", "c")]
    datalist = make_datalist(
        out, name="X", description="d", reference="r", structures=["vessel"], split_note="s", seed=3,
        val_fraction=0.0, training=entries[:2], test=entries[2:],
    )
    assert datalist["split_note"] == "s; validation = seeded 0% of the training items"
    assert [e["name"] for e in datalist["training"]] == ["a", "b"] and datalist["validation"] == []
    first = datalist["training"][0]
    assert first == {"image": "../../raw/a b/img.png", "vessel": "../../raw/lab.png", "mask": "derived/mask/a.png",
                     "name": "a"}
    path = write_datalist(datalist, out)
    assert json.loads(path.read_text()) == datalist
    assert sorted(p.name for p in out.iterdir()) == ["datalist.json", "derived"]  # no temporary file left
    with pytest.raises(ValueError, match="unknown structures"):
        make_datalist(out, name="X", description="d", reference="r", structures=["vessels"], split_note="s",
                      seed=0, val_fraction=0.2, training=entries, test=[])


def test_raw_files_search(tmp_path):
    for rel in ["training/images/01.tif", "Training/Left Lung/02.TIF", "other/03.tif", "out/04.tif"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    files = RawFiles(tmp_path, exclude=tmp_path / "out")
    assert [p.name for p in files.find("*.tif", "x")] == ["02.TIF", "03.tif", "01.tif"]  # by path
    assert [p.name for p in files.find("*.tif", "x", within=("training", "left_lung"))] == ["02.TIF"]
    with pytest.raises(FileNotFoundError, match=r"no DRIVE labels found below .*'\*.gif' in folders named 'mask'"):
        files.find("*.gif", "DRIVE labels", within=("mask",))
    (tmp_path / "other" / "01.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="two images for '01'"):
        files = RawFiles(tmp_path)
        files.index("*.tif", "images", key=lambda p: p.stem)
