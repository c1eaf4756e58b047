# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Errors of ld_monai.apps.prepare and ``ld-monai prepare``: clear messages, never a half-written datalist."""

from __future__ import annotations

import pytest

from ld_monai.apps.cli import main
from ld_monai.apps.prepare import prepare_dataset
from tests.apps.prepare.synthetic import fundus, save, shape, write_chase_db1, write_idrid


def test_unknown_dataset_lists_the_names(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown dataset 'drives'; valid names: drive, stare, chase_db1, .*cxr_lungs"):
        prepare_dataset("drives", tmp_path, tmp_path / "out")
    assert main(["prepare", "drives", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "valid names: drive, stare" in capsys.readouterr().err


def test_bad_val_fraction(tmp_path):
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\), got 1.0"):
        prepare_dataset("drive", tmp_path, tmp_path / "out", val_fraction=1.0)


def test_missing_raw_dir(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=f"raw_dir {tmp_path / 'nowhere'} does not exist"):
        prepare_dataset("drive", tmp_path / "nowhere", tmp_path / "out")
    assert main(["prepare", "drive", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_no_images_names_the_pattern(tmp_path):
    (tmp_path / "raw" / "training" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no DRIVE training labels found below .*raw: searched for file "
                       r"names matching '\*_manual1.gif' in folders named 'training' and '1st_manual'"):
        prepare_dataset("drive", tmp_path / "raw", tmp_path / "out")
    (tmp_path / "raw" / "stare-images").mkdir()
    digits = r"\[0-9\]" * 4
    with pytest.raises(FileNotFoundError, match=rf"no STARE images \(stare-images\) .*'im{digits}.png'"):
        prepare_dataset("stare", tmp_path / "raw", tmp_path / "out")


def test_image_without_label_names_both(tmp_path):
    write_chase_db1(tmp_path / "raw")
    (tmp_path / "raw" / "Image_07R_1stHO.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"image .*Image_07R.jpg has no 1st-observer label: expected a file "
                       r"named 'Image_07R_1stHO.png'"):
        prepare_dataset("chase_db1", tmp_path / "raw", tmp_path / "out")


def test_label_not_binarisable_keeps_the_old_datalist(tmp_path):
    seg = write_idrid(tmp_path / "raw")
    out = tmp_path / "out"
    first = prepare_dataset("idrid_od", tmp_path / "raw", out).read_bytes()
    bad = seg / "2. All Segmentation Groundtruths" / "b. Testing Set" / "5. Optic Disc" / "IDRiD_56_OD.tif"
    save(fundus((40, 36), 3), bad)  # a photograph where the mask should be
    with pytest.raises(ValueError, match="IDRiD_56_OD.tif: cannot binarise a colour picture"):
        prepare_dataset("idrid_od", tmp_path / "raw", out, seed=7)
    assert (out / "datalist.json").read_bytes() == first
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    save(shape((41, 36), 0), bad)  # a mask of another size
    with pytest.raises(ValueError, match=r"IDRiD_56_OD.tif: size 41x36 differs from the 40x36 of its image .*_56.jpg"):
        prepare_dataset("idrid_od", tmp_path / "raw", out)


def test_two_copies_of_an_image(tmp_path):
    write_chase_db1(tmp_path / "raw")
    (tmp_path / "raw" / "copy").mkdir()
    (tmp_path / "raw" / "copy" / "Image_01L.jpg").write_bytes((tmp_path / "raw" / "Image_01L.jpg").read_bytes())
    with pytest.raises(ValueError, match=r"two items named 'Image_01L': .*Image_01L.jpg and .*copy/Image_01L.jpg"):
        prepare_dataset("chase_db1", tmp_path / "raw", tmp_path / "out")
