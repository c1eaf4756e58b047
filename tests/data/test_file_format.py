# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""DICOM recognised by content, output names after their inputs (UID-named DICOM keep their whole name)."""

from __future__ import annotations

import numpy as np

from ld_monai.data import file_stem, image_folder_datalist, is_dicom_file, is_nifti_path, write_radiograph_dicom


def test_is_dicom_file_by_content(tmp_path):
    uid_named = tmp_path / "1.2.840.113619.2.55"
    write_radiograph_dicom(np.zeros((8, 8), np.uint16), uid_named)
    (tmp_path / "fake.dcm").write_bytes(b"\0" * 200)
    (tmp_path / "short").write_bytes(b"DICM")
    assert is_dicom_file(uid_named)
    assert not is_dicom_file(tmp_path / "fake.dcm")
    assert not is_dicom_file(tmp_path / "short")
    assert not is_dicom_file(tmp_path / "missing")


def test_file_stem():
    assert file_stem("/a/b/case_01.nii.gz") == "case_01"
    assert file_stem("x/IMG.PNG") == "IMG"
    assert file_stem("1.2.840.113619.2.55") == "1.2.840.113619.2.55"
    assert file_stem("scan.v2.dcm") == "scan.v2"
    assert file_stem(".png") == ".png"
    assert is_nifti_path("A.NII.GZ") and not is_nifti_path("a.nii.txt")


def test_image_folder_lists_extensionless_dicom(tmp_path):
    write_radiograph_dicom(np.zeros((8, 8), np.uint16), tmp_path / "IM0001")
    (tmp_path / "notes.txt").write_text("no image")
    assert [e["image"] for e in image_folder_datalist(tmp_path)] == [str(tmp_path / "IM0001")]
