# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Write predicted structures as a DICOM Segmentation (SEG) object that references its source radiograph.

Built with highdicom (Herrmann et al., "Highdicom: a Python library for standardized encoding of image
annotations and machine learning model outputs in pathology and radiology", J Digit Imaging 2022), so PACS
viewers show the masks over the source image.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from ld_monai.utils import atomic_write

__all__ = ["write_dicom_seg", "structure_code"]

#: SNOMED CT codes of the structures ld_monai's X-ray bundles segment (from pydicom's code dictionary)
_STRUCTURE_CODES = {"lung": codes.SCT.Lung, "heart": codes.SCT.Heart, "clavicle": codes.SCT.Clavicle,
                    "vessel": codes.SCT.BloodVessel}


def structure_code(name: str):
    """The SNOMED CT code of a structure name; unknown names get "Anatomical Structure" (their label keeps the
    name)."""
    return _STRUCTURE_CODES.get(name.lower(), codes.SCT.AnatomicalStructure)


#: the longest value of DICOM's Long String (LO): model name and series description are cut to it
LONG_STRING = 64


def write_dicom_seg(
    masks: np.ndarray,
    source: str | os.PathLike,
    path: str | os.PathLike,
    structure_names: Sequence[str],
    algorithm_name: str,
    algorithm_version: str,
) -> Path:
    """Write binary ``masks`` (K, rows, cols), one per structure, as a BINARY DICOM SEG of the DICOM ``source``.

    The SEG references the source instance (Referenced Series Sequence), copies its patient and study, and gets
    a new series; each structure is a segment with an automatic-algorithm description and one frame (also when
    empty), in the order of ``structure_names``. Written atomically.

    Raises:
        ValueError: the masks' size is not the source's (rows, cols), or the counts of masks and names differ.
    """
    import highdicom as hd  # heavy (about 1 s): loaded only when a SEG is written

    source_ds = pydicom.dcmread(source, stop_before_pixels=True)
    masks = np.asarray(masks).astype(bool)
    if masks.ndim != 3 or masks.shape[1:] != (source_ds.Rows, source_ds.Columns):
        raise ValueError(
            f"{source}: masks of shape {masks.shape} do not match the source image "
            f"({source_ds.Rows} x {source_ds.Columns}); expected (K, rows, cols)."
        )
    if masks.shape[0] != len(structure_names):
        raise ValueError(f"{masks.shape[0]} masks but {len(structure_names)} structure names.")
    algorithm = hd.AlgorithmIdentificationSequence(
        name=algorithm_name[:LONG_STRING], version=algorithm_version, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k + 1,
            segment_label=name,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=structure_code(name),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for k, name in enumerate(structure_names)
    ]
    seg = hd.seg.Segmentation(
        source_images=[source_ds],
        pixel_array=np.moveaxis(masks, 0, -1)[None],  # (frames=1, rows, cols, segments)
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(source_ds.get("SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="ld_monai",
        manufacturer_model_name=algorithm_name[:LONG_STRING],
        software_versions=algorithm_version,
        device_serial_number="0",
        series_description=f"{algorithm_name} segmentation"[:LONG_STRING],
        omit_empty_frames=False,  # one frame per structure, also when it is empty
    )
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))
