# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ld_monai.apps.prepare on synthetic copies of the chest X-ray layouts: JSRT + SCR, Montgomery, Shenzhen."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage.util import invert

from ld_monai.apps.cli import main
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.apps.prepare.jsrt import read_jsrt
from tests.apps.prepare.synthetic import SPLITS, check_datalist, foreground, load, save, shape

MASK = (32, 32)
_FOLDERS = ("left lung", "right lung", "heart", "left clavicle", "right clavicle")


def _jsrt_image(path, side, seed):
    """A 12-bit raw radiograph whose left half (the "lungs") has high values, as stored in JSRT (dark once inverted)."""
    rng = np.random.RandomState(seed)
    pixels = rng.randint(0, 1500, (side, side)).astype(">i2")
    pixels[:, : side // 2] += 2500
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels.tofile(path)
    return pixels


def _scr_masks(root, name, seed, folder_names=_FOLDERS):
    return {f: save(shape(MASK, seed + i), root / f / f"{name}.gif") for i, f in enumerate(folder_names)}


def test_jsrt_release_layout(tmp_path):
    raw = tmp_path / "raw"
    folds = {"JPCLN001": "fold1", "JPCLN003": "fold1", "JPCNN001": "fold1", "JPCLN002": "fold2"}
    masks = {}
    for i, (name, fold) in enumerate(folds.items()):
        _jsrt_image(raw / "All247images" / f"{name}.IMG", 64, i)
        masks[name] = _scr_masks(raw / "scratch" / fold / "masks", name, 10 * i)
    path = prepare_dataset("jsrt", raw, tmp_path / "out")
    datalist = check_datalist(path, ["lung", "heart", "clavicle"], with_mask=False)
    assert [len(datalist[s]) for s in SPLITS] == [2, 1, 1]
    assert [e["name"] for e in datalist["test"]] == ["JPCLN002"]
    entry = datalist["test"][0]
    m = {f: load(p) > 0 for f, p in masks["JPCLN002"].items()}
    np.testing.assert_array_equal(foreground(path, entry["lung"]), m["left lung"] | m["right lung"])
    np.testing.assert_array_equal(foreground(path, entry["clavicle"]), m["left clavicle"] | m["right clavicle"])
    assert entry["heart"] == "../raw/scratch/fold2/masks/heart/JPCLN002.gif"
    image = load(path.parent / entry["image"])
    assert entry["image"] == "derived/image/JPCLN002.png" and image.shape == MASK and image.dtype == np.uint8
    assert image[:, :16].mean() < 80 < 170 < image[:, 16:].mean()  # high raw values (the lungs) appear dark
    # the research conversion: invert, min-max to 8 bits (floored), then an area (box) resize to the mask size
    raw_pixels = np.fromfile(raw / "All247images" / "JPCLN002.IMG", ">i2").reshape(64, 64).astype(np.int16)
    inverted = invert(raw_pixels).astype(float)
    expected = np.floor((inverted - inverted.min()) / (inverted.max() - inverted.min()) * 255).astype(np.uint8)
    np.testing.assert_array_equal(read_jsrt(raw / "All247images" / "JPCLN002.IMG"), expected)
    np.testing.assert_array_equal(image, np.asarray(Image.fromarray(expected).resize(MASK, Image.BOX)))


def test_jsrt_flat_layout_odd_even(tmp_path):
    raw = tmp_path / "raw"
    for i, name in enumerate(["JPCLN001", "JPCLN002", "JPCNN003", "JPCNN004"]):
        _jsrt_image(raw / "images" / f"{name}.IMG", 48, i)
        _scr_masks(raw / "masks", name, i, [f.replace(" ", "_") for f in _FOLDERS])
    path = prepare_dataset("jsrt", raw, tmp_path / "out", val_fraction=0.0)
    datalist = check_datalist(path, ["lung", "heart", "clavicle"], with_mask=False)
    assert [e["name"] for e in datalist["training"]] == ["JPCLN001", "JPCNN003"]  # odd numbers: SCR fold1
    assert [e["name"] for e in datalist["test"]] == ["JPCLN002", "JPCNN004"]
    assert load(path.parent / datalist["test"][0]["image"]).shape == MASK  # 48 px resized to the masks' 32


def test_jsrt_with_the_real_scr_masks(data_dir, tmp_path):
    scr = data_dir / "xray" / "SCR_annotations"
    with pytest.raises(FileNotFoundError, match=r"no JSRT images \(.IMG\) found below .*SCR_annotations.*'\*.img'"):
        prepare_dataset("jsrt", scr, tmp_path / "nothing")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "masks").symlink_to(scr / "masks", target_is_directory=True)
    _jsrt_image(raw / "JPCLN001.IMG", 2048, 0)  # the real size: 2048 x 2048 x 2 bytes
    _jsrt_image(raw / "JPCLN002.IMG", 256, 1)
    path = prepare_dataset("jsrt", raw, tmp_path / "out")
    datalist = check_datalist(path, ["lung", "heart", "clavicle"], with_mask=False)
    assert [[e["name"] for e in datalist[s]] for s in SPLITS] == [["JPCLN001"], [], ["JPCLN002"]]
    entry = datalist["training"][0]
    assert load(path.parent / entry["image"]).shape == (1024, 1024)
    left = load(scr / "masks" / "left_lung" / "JPCLN001.gif") > 0
    right = load(scr / "masks" / "right_lung" / "JPCLN001.gif") > 0
    np.testing.assert_array_equal(foreground(path, entry["lung"]), left | right)
    assert 0.2 < (left | right).mean() < 0.6


def test_jsrt_bad_file_length(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "JPCLN001.IMG").write_bytes(b"\0" * 1000)
    _scr_masks(tmp_path / "raw" / "masks", "JPCLN001", 0)
    with pytest.raises(ValueError, match="JPCLN001.IMG: 1000 bytes is not a square image of 16-bit pixels"):
        prepare_dataset("jsrt", tmp_path / "raw", tmp_path / "out")


def test_montgomery(tmp_path):
    raw = tmp_path / "raw"
    size = (40, 48)
    for i in range(1, 6):
        name = f"MCUCXR_{i:04d}_{i % 2}"
        save(np.random.RandomState(i).randint(0, 255, size[::-1], dtype=np.uint8), raw / "CXR_png" / f"{name}.png")
        save(shape(size, i), raw / "ManualMask" / "leftMask" / f"{name}.png")
        save(shape(size, i + 50, (0, 1)), raw / "ManualMask" / "rightMask" / f"{name}.png")
    path = prepare_dataset("montgomery", raw, tmp_path / "out")
    datalist = check_datalist(path, ["lung"], with_mask=False)
    assert [len(datalist[s]) for s in SPLITS] == [3, 1, 1]
    for entry in datalist["training"]:
        left = load(raw / "ManualMask" / "leftMask" / f"{entry['name']}.png") > 0
        right = load(raw / "ManualMask" / "rightMask" / f"{entry['name']}.png") > 0
        np.testing.assert_array_equal(foreground(path, entry["lung"]), left | right)
    again = prepare_dataset("montgomery", raw, tmp_path / "out2", seed=5)
    assert check_datalist(again, ["lung"], with_mask=False)["test"] == datalist["test"]  # the test set is fixed


def _shenzhen(raw, with_mask=(1, 2, 4, 6)):
    for i in range(1, 7):
        name = f"CHNCXR_{i:04d}_{i % 2}"
        save(np.full((30, 30), 100, np.uint8), raw / "CXR_png" / f"{name}.png")
        if i in with_mask:
            save(shape((30, 30), i), raw / "mask" / f"{name}_mask.png")


def test_shenzhen_and_cli_summary(tmp_path, capsys):
    _shenzhen(tmp_path / "raw")
    assert main(["prepare", "shenzhen", str(tmp_path / "raw"), str(tmp_path / "out"), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    datalist = check_datalist(tmp_path / "out" / "datalist.json", ["lung"], with_mask=False)
    assert datalist["seed"] == 3 and sum(len(datalist[s]) for s in SPLITS) == 4
    assert [len(datalist[s]) for s in SPLITS] == [2, 1, 1]
    assert "training 2, validation 1, test 1" in printed
    assert "skipped 2 of 6 Shenzhen images without a lung mask" in printed
    assert "no derived files" in printed and f"datalist: {tmp_path / 'out' / 'datalist.json'}" in printed


def test_shenzhen_mask_without_image(tmp_path):
    _shenzhen(tmp_path / "raw")
    save(shape((30, 30), 0), tmp_path / "raw" / "mask" / "CHNCXR_0099_0_mask.png")
    with pytest.raises(FileNotFoundError, match="CHNCXR_0099_0_mask.png has no image: expected .*CHNCXR_0099_0.png"):
        prepare_dataset("shenzhen", tmp_path / "raw", tmp_path / "out")
