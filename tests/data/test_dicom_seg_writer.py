# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""DICOM SEG of predicted structures: one frame per structure, coded, referencing the source; size checks."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from ld_monai.data import write_dicom_seg, write_radiograph_dicom


def test_two_structures_one_empty(tmp_path):
    source = tmp_path / "cxr.dcm"
    write_radiograph_dicom(np.zeros((40, 30), np.uint16), source, modality="DX")
    masks = np.zeros((2, 40, 30), bool)
    masks[0, 5:20, 3:9] = True
    write_dicom_seg(masks, source, tmp_path / "seg.dcm", ["lung", "heart"], "lung_segmentation", "0.1.0")
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["lung", "heart"]
    assert [s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning for s in seg.SegmentSequence] == ["Lung", "Heart"]
    np.testing.assert_array_equal(seg.pixel_array, masks.astype(np.uint8))  # (frames = structures, rows, cols)
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == \
        pydicom.dcmread(source).SOPInstanceUID


def test_size_and_count_mismatch(tmp_path):
    source = tmp_path / "cxr.dcm"
    write_radiograph_dicom(np.zeros((40, 30), np.uint16), source)
    with pytest.raises(ValueError, match="do not match the source image"):
        write_dicom_seg(np.zeros((1, 30, 40), bool), source, tmp_path / "s.dcm", ["lung"], "x", "1")
    with pytest.raises(ValueError, match="2 masks but 1 structure names"):
        write_dicom_seg(np.zeros((2, 40, 30), bool), source, tmp_path / "s.dcm", ["lung"], "x", "1")
    assert not (tmp_path / "s.dcm").exists()
