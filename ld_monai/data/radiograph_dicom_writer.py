# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Wrap a radiograph array (e.g. a PNG chest X-ray) in a CR or DX DICOM file.

For tests, benchmarks and PACS trials: public chest X-ray sets ship PNGs, while hospitals send DICOM (DX/CR,
MONOCHROME1 or 2, compressed, with spacing and a VOI window). The files written here exercise the same paths of
:class:`ld_monai.transforms.LoadRadiograph`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    PYDICOM_IMPLEMENTATION_UID,
    generate_uid,
)

__all__ = ["write_radiograph_dicom"]

_SOP_CLASS = {"CR": ComputedRadiographyImageStorage, "DX": DigitalXRayImageStorageForPresentation}


def write_radiograph_dicom(
    pixels: np.ndarray,
    path: str | os.PathLike,
    modality: str = "DX",
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    pixel_spacing: Sequence[float] | None = None,
    imager_pixel_spacing: Sequence[float] | None = None,
    window: tuple[float, float] | None = None,
    voi_lut: np.ndarray | None = None,
    rescale: tuple[float, float] | None = None,
    transfer_syntax: str | UID = ExplicitVRLittleEndian,
) -> Dataset:
    """Write ``pixels`` (rows, cols) as a single-frame CR or DX DICOM file and return the dataset.

    ``pixels`` holds stored values in the MONOCHROME2 sense (higher = brighter = more attenuating), integers in
    ``[0, 2**bits_stored)``; for ``photometric="MONOCHROME1"`` they are stored inverted
    (``2**bits_stored - 1 - pixels``), so that both files show the same picture.

    Args:
        modality: ``"CR"`` or ``"DX"`` (SOP class CR Image Storage or Digital X-Ray Image Storage - For
            Presentation).
        photometric: ``"MONOCHROME1"`` or ``"MONOCHROME2"``.
        bits_stored: 8 to 16; BitsAllocated is 8 for 8 bits, else 16.
        pixel_spacing: (row, column) PixelSpacing in mm, written when given.
        imager_pixel_spacing: (row, column) ImagerPixelSpacing in mm, written when given.
        window: (centre, width) written as WindowCenter / WindowWidth, in stored-value units after rescale.
        voi_lut: a 1-D LUT (uint16) mapping stored values (from 0) to display values, written as a VOI LUT
            Sequence with a 16-bit descriptor.
        rescale: (slope, intercept) written as RescaleSlope / RescaleIntercept.
        transfer_syntax: e.g. ``pydicom.uid.RLELossless`` or ``JPEG2000Lossless`` (encoded by pydicom's
            plugins) or the default uncompressed Explicit VR Little Endian.
    """
    modality = modality.upper()
    if modality not in _SOP_CLASS:
        raise ValueError(f"modality must be CR or DX, got {modality!r}.")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}.")
    if not 8 <= bits_stored <= 16:
        raise ValueError(f"bits_stored must be in [8, 16], got {bits_stored}.")
    pixels = np.asarray(pixels)
    top = 2**bits_stored - 1
    if pixels.ndim != 2 or pixels.min() < 0 or pixels.max() > top:
        raise ValueError(f"pixels must be a 2-D array of integers in [0, {top}], got shape {pixels.shape}.")
    stored = top - pixels if photometric == "MONOCHROME1" else pixels
    allocated = 8 if bits_stored == 8 else 16
    stored = stored.astype(np.uint8 if allocated == 8 else np.uint16)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = _SOP_CLASS[modality]
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID = _SOP_CLASS[modality]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Radiograph", "LDMONAI0001"
    ds.PatientBirthDate, ds.PatientSex, ds.StudyDate, ds.StudyTime = "", "O", "20261122", "120000"
    ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "", "", "1"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Manufacturer = "ld_monai test"
    ds.BodyPartExamined, ds.ViewPosition = "CHEST", "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageLaterality = "U"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    if pixel_spacing is not None:
        ds.PixelSpacing = [f"{float(s):g}" for s in pixel_spacing]
    if imager_pixel_spacing is not None:
        ds.ImagerPixelSpacing = [f"{float(s):g}" for s in imager_pixel_spacing]
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{rescale[0]:g}", f"{rescale[1]:g}", "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
    if voi_lut is not None:
        item = Dataset()
        lut = np.asarray(voi_lut, dtype=np.uint16)
        item.LUTDescriptor = [len(lut) if len(lut) < 65536 else 0, 0, 16]
        item.add_new("LUTData", "US", lut.tolist())
        item.LUTExplanation = "ld_monai test VOI LUT"
        ds.VOILUTSequence = [item]
    ds.PixelData = stored.tobytes()
    if UID(transfer_syntax) != ExplicitVRLittleEndian:
        ds.compress(UID(transfer_syntax))
    ds.save_as(os.fspath(path), enforce_file_format=True)
    return ds
