# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Intensity normalisation of chest radiographs to one channel in [0, 1].

Local discrimination (Chen et al., arXiv 2108.09440) pretrains on ChestX-ray8 PNGs read as 8-bit gray
(``.convert('L')``) and preprocesses JSRT by inverting and min-max scaling (research code
``dataset/X-ray/preprocessing_of_X-ray.py``). Radiographs from DICOM (DX/CR) have arbitrary bit depths,
outliers (burnt-in text, collimator edges) and sometimes inverted polarity (MONOCHROME1), so this
transform uses robust percentile scaling instead of plain min-max.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms.transform import MapTransform, Transform
from monai.transforms.utils_pytorch_numpy_unification import percentile
from monai.utils import TransformBackends, convert_to_tensor

from ld_monai.transforms.channels import source_name

__all__ = [
    "XRayIntensityNormalize",
    "XRayIntensityNormalized",
    "XRayIntensityNormalizeD",
    "XRayIntensityNormalizeDict",
]

# ITU-R 601-2 luma weights, as PIL's ``Image.convert('L')`` used by the research code.
_LUMA = (0.299, 0.587, 0.114)


class XRayIntensityNormalize(Transform):
    """Robust percentile scaling of a radiograph to one float channel in [0, 1].

    ``out = clip((x - p_lower) / (p_upper - p_lower), 0, 1)`` with ``p_q`` the q-th percentile of the
    image, then ``1 - out`` if ``invert``. Without inversion, higher output = brighter in the stored image.
    A constant image (``p_upper == p_lower``) gives zeros.

    Input: (1, H, W) of any numeric dtype. (3, H, W) RGB or (4, H, W) RGBA inputs are reduced to their
    luminance (ITU-R 601-2, i.e. PIL's ``convert('L')`` as in the research code; alpha ignored);
    other channel counts raise ``ValueError``.
    Output: (1, H, W) float32 in [0, 1]; MetaTensor in, MetaTensor out (meta preserved).

    Args:
        lower: lower percentile in [0, 100] (default 0.5).
        upper: upper percentile in [0, 100] (default 99.5), ``> lower``.
        invert: return ``1 - out`` (e.g. for MONOCHROME1 DICOMs or to match JSRT's inverted polarity).

    Raises:
        ValueError: the image contains NaN, or has the wrong shape; the message names the file.

    Example::

        XRayIntensityNormalize()(dicom_pixels[None].float())  # (1, H, W) in [0, 1]
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, lower: float = 0.5, upper: float = 99.5, invert: bool = False) -> None:
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= lower < upper <= 100, got lower={lower}, upper={upper}.")
        self.lower = float(lower)
        self.upper = float(upper)
        self.invert = bool(invert)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """``img``: (1, H, W) (or RGB/RGBA) -> (1, H, W) float32 in [0, 1]."""
        name = source_name(img)
        img_t = convert_to_tensor(img, track_meta=get_track_meta())
        if img_t.ndim < 3 or img_t.shape[0] not in (1, 3, 4):
            raise ValueError(
                f"{name}: expected a channel-first radiograph (1, H, W) (or RGB/RGBA), got shape {tuple(img_t.shape)}."
            )
        x = img_t.float()
        if x.shape[0] > 1:
            x = _LUMA[0] * x[0:1] + _LUMA[1] * x[1:2] + _LUMA[2] * x[2:3]  # keeps MetaTensor and meta
        raw = x.as_tensor() if isinstance(x, MetaTensor) else x
        if torch.isnan(raw).any():
            raise ValueError(f"{name}: the image contains NaN; expected finite intensities.")
        lo, hi = percentile(raw.reshape(-1), [self.lower, self.upper])
        lo, hi = float(lo), float(hi)
        if not hi > lo:
            out = torch.zeros_like(x)
        else:
            out = ((x - lo) / (hi - lo)).clamp_(0.0, 1.0)
            if self.invert:
                out = 1.0 - out
        return out.to(torch.float32)


class XRayIntensityNormalized(MapTransform):
    """Dictionary twin of :class:`XRayIntensityNormalize` (each key normalised with its own percentiles)."""

    backend = XRayIntensityNormalize.backend

    def __init__(
        self,
        keys: KeysCollection,
        lower: float = 0.5,
        upper: float = 99.5,
        invert: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.normalizer = XRayIntensityNormalize(lower=lower, upper=upper, invert=invert)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.normalizer(d[key])
        return d


XRayIntensityNormalizeD = XRayIntensityNormalizeDict = XRayIntensityNormalized
