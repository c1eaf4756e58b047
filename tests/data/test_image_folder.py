# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.data.image_folder: datalists and the fail-fast file check."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ld_monai.data import check_image_files, image_folder_datalist


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


def test_datalist_of_several_folders(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    _png(second / "a.png")
    _png(first / "z.png")
    _png(first / "b.png")
    names = [Path(e["image"]).name for e in image_folder_datalist([first, str(second)])]
    assert names == ["b.png", "z.png", "a.png"]  # each folder sorted, folders in the given order
    with pytest.raises(FileNotFoundError, match="missing"):
        image_folder_datalist([first, tmp_path / "missing"])


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
    with pytest.raises(ValueError, match="give dataset_dir"):
        image_folder_datalist(None)


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


def test_check_image_files_with_the_radiograph_loader(tmp_path, data_dir):
    """With LoadRadiograph as loader, DICOM files get the radiograph checks (modality) and their real size."""
    from ld_monai.data import write_radiograph_dicom
    from ld_monai.transforms import LoadRadiograph

    good = tmp_path / "IM0001"
    write_radiograph_dicom(np.zeros((300, 260), np.uint16), good)
    ct = data_dir / "dicom_nifti" / "dicom_pydicom_wheel" / "CT_small.dcm"
    check_image_files([{"image": str(good)}], min_size=256, num_channels=1, loader=LoadRadiograph())
    with pytest.raises(ValueError) as err:
        check_image_files([{"image": str(good)}, {"image": str(ct)}], min_size=270, loader=LoadRadiograph())
    assert "IM0001: too small, size 300x260" in str(err.value)
    assert "CT_small.dcm" in str(err.value) and "Modality CT" in str(err.value)
