# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Load a radiograph from DICOM, NIfTI or an image file as one float channel in [0, 1] (``LoadRadiograph``).

One reading chain for every place X-rays enter ld_monai (the chest X-ray variant of LD pretraining, the lung
segmentation bundle, ``ld-monai predict``): MONAI ``LoadImage`` with the reader the file's content calls for,
then one intensity convention, higher = more attenuating (bone bright), as the PNG chest X-rays LD pretrains on
(Chen et al., arXiv 2108.09440).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import ImageReader, MetaTensor, PILReader
from monai.transforms import LoadImage
from monai.transforms.transform import MapTransform, Transform

from ld_monai.data.dicom_radiograph_reader import DEFAULT_MAX_PIXELS, RADIOGRAPH_MODALITIES, DicomRadiographReader
from ld_monai.data.file_format import is_dicom_file, is_nifti_path
from ld_monai.data.nifti_radiograph_reader import NiftiRadiographReader
from ld_monai.data.radiograph_error import RadiographReadError
from ld_monai.transforms.channels import EnsureChannels
from ld_monai.transforms.xray import XRayIntensityNormalize

__all__ = ["LoadRadiograph", "LoadRadiographd", "LoadRadiographD", "LoadRadiographDict"]


class LoadRadiograph(Transform):
    """Read a radiograph file into a (1, H, W) float32 MetaTensor in [0, 1], higher = more attenuating.

    The reader is chosen by content, not by name: the DICOM magic (any name, also none) ->
    :class:`ld_monai.data.DicomRadiographReader`; ``.nii``/``.nii.gz`` ->
    :class:`ld_monai.data.NiftiRadiographReader`; anything else -> MONAI ``PILReader`` (PNG, JPEG, TIFF, ...).
    Each is called through MONAI ``LoadImage``. Then:

    * DICOM: the modality LUT, the file's VOI LUT or window (giving [0, 1]) and MONOCHROME1 inversion are applied
      by the reader (``apply_voi_lut=False`` skips the VOI);
    * every format, also a DICOM after its VOI (unless ``rescale_after_voi=False``): robust percentile
      normalisation (:class:`XRayIntensityNormalize`, ``lower``/``upper``). A PNG radiograph is a VOI-windowed
      export whose training pipeline stretches it this way, so a DICOM gets the same two steps. Without the
      stretch, a model trained on PNGs dropped from Dice 0.903 to 0.420 on the same radiographs as windowed DICOMs
      (``benchmarks/lung_dicom_consistency.py``, ``docs/benchmarks.md``);
    * RGB files with three identical channels become one channel, colour images are refused.

    Array axes are (rows, columns) for every format. ``meta`` keeps the affine (DICOM: pixel spacing in mm from
    PixelSpacing or ImagerPixelSpacing; NIfTI: its own), ``spacing``, the file name and, for DICOM, the keys
    listed in :class:`ld_monai.data.DicomRadiographReader` (``xray_intensity`` says which scaling was used).

    Every failure raises :class:`ld_monai.data.RadiographReadError` naming the file: missing, truncated or corrupt
    files, undecodable pixels, 3-D or multi-frame images, colour, DICOM without pixel data, non-image DICOM (SR,
    RT) and modalities other than ``modalities``.

    Args:
        modalities: DICOM Modality values accepted (default CR, DX, RG, OT).
        apply_voi_lut: use a DICOM file's VOI LUT or window when it has one.
        rescale_after_voi: percentile-normalise also after a VOI (default True); False keeps the VOI output as is.
        lower: lower percentile of the normalisation.
        upper: upper percentile of the normalisation.
        max_pixels: the largest accepted DICOM rows x columns.

    Example::

        image = LoadRadiograph()("chest.dcm")  # (1, rows, cols), image.meta["spacing"] in mm
    """

    def __init__(
        self,
        modalities: Sequence[str] = RADIOGRAPH_MODALITIES,
        apply_voi_lut: bool = True,
        rescale_after_voi: bool = True,
        lower: float = 0.5,
        upper: float = 99.5,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.dicom_reader = DicomRadiographReader(modalities=modalities, apply_voi_lut=apply_voi_lut,
                                                  max_pixels=max_pixels)
        self.nifti_reader = NiftiRadiographReader()
        self.image_reader = PILReader(reverse_indexing=False)
        # the readers are registered so that LoadImage does not instantiate all of MONAI's (noisy, slow)
        readers = [self.image_reader, self.nifti_reader, self.dicom_reader]
        self.loader = LoadImage(reader=readers, image_only=True, ensure_channel_first=True, dtype=np.float32)
        self.channels = EnsureChannels(num_channels=1)
        self.normalize = XRayIntensityNormalize(lower=lower, upper=upper)
        self.rescale_after_voi = bool(rescale_after_voi)

    def reader_for(self, path: str) -> ImageReader:
        """The reader for ``path``, chosen by content (DICOM magic), then by suffix (NIfTI), else PIL."""
        if is_dicom_file(path) or path.lower().endswith(".dcm"):
            return self.dicom_reader
        if is_nifti_path(path):
            return self.nifti_reader
        return self.image_reader

    def __call__(self, filename: str | os.PathLike) -> MetaTensor:
        """``filename`` -> (1, H, W) float32 MetaTensor in [0, 1]."""
        path = os.fspath(filename)
        if not os.path.isfile(path):
            raise RadiographReadError(f"{path}: file not found.")
        reader = self.reader_for(path)
        try:
            image = self.channels(self.loader(path, reader=reader))
            if self.rescale_after_voi or image.meta.get("xray_intensity", "raw") == "raw":
                image = self.normalize(image)
        except RadiographReadError:
            raise
        except Exception as e:  # noqa: BLE001 - every reader/decoder failure becomes the one documented error
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise RadiographReadError(
                f"{path}: cannot read it as a radiograph with {type(reader).__name__}: {type(e).__name__}: {reason}"
            ) from e
        image = image.to(torch.float32)
        if not torch.isfinite(image.as_tensor()).all():
            raise RadiographReadError(f"{path}: the pixel values are not finite after intensity scaling.")
        return image


class LoadRadiographd(MapTransform):
    """Dictionary twin of :class:`LoadRadiograph`: each key holds a file name and is replaced by its image."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False, **kwargs) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadRadiograph(**kwargs)

    def __call__(self, data: Mapping[Hashable, str]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.loader(d[key])
        return d


LoadRadiographD = LoadRadiographDict = LoadRadiographd
