# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Contrast options of vessel models for colour fundus photographs: the green channel and CLAHE.

Vessels contrast best in the green channel, and many small vessel networks train on it alone, often after
contrast-limited adaptive histogram equalisation (CLAHE; e.g. Retina-UNet's gray + CLAHE + gamma preprocessing,
SA-UNet and IterNet's CLAHE). MONAI has a global histogram equalisation (``HistogramNormalize``) but no CLAHE, so
this uses scikit-image's ``equalize_adapthist``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.transform import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type
from skimage.exposure import equalize_adapthist

from ld_monai.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["FUNDUS_CONTRASTS", "FundusContrast", "FundusContrastd", "FundusContrastD", "FundusContrastDict",
           "fundus_contrast_channels", "fundus_contrast_statistics"]

#: ``None`` keeps the RGB photograph; the others are the options of :class:`FundusContrast`
FUNDUS_CONTRASTS = (None, "green", "clahe", "green_clahe")


def _check(mode: str | None) -> None:
    if mode not in FUNDUS_CONTRASTS:
        raise ValueError(f"fundus contrast must be one of {FUNDUS_CONTRASTS}, got {mode!r}.")


def fundus_contrast_channels(mode: str | None) -> int:
    """Channels of the network input under contrast ``mode``: 1 for the green channel, otherwise 3."""
    _check(mode)
    return 1 if mode in ("green", "green_clahe") else 3


def fundus_contrast_statistics(mode: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation (mean, std) under contrast ``mode``: ImageNet's, of the green channel alone when it is kept
    alone (CLAHE spreads the values, but the ImageNet statistics keep LD's encoders' input range)."""
    if fundus_contrast_channels(mode) == 1:
        return (IMAGENET_MEAN[1],), (IMAGENET_STD[1],)
    return IMAGENET_MEAN, IMAGENET_STD


class FundusContrast(Transform):
    """An RGB fundus photograph (3, H, W) with values in [0, 1] -> the network's contrast ``mode``:

    * ``None``: unchanged;
    * ``"green"``: the green channel alone, (1, H, W);
    * ``"clahe"``: CLAHE of each colour channel, (3, H, W);
    * ``"green_clahe"``: CLAHE of the green channel, (1, H, W).

    CLAHE is scikit-image's ``equalize_adapthist`` with ``clip_limit`` and tiles of ``kernel_size`` pixels
    (default: an eighth of the image's side). No spatial change: nothing to invert.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(self, mode: str | None, clip_limit: float = 0.01, kernel_size: int | None = None) -> None:
        _check(mode)
        self.mode, self.clip_limit, self.kernel_size = mode, float(clip_limit), kernel_size

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        if self.mode is None:
            return img
        if img.shape[0] != 3:
            raise ValueError(f"fundus contrast {self.mode!r} needs an RGB image (3, H, W), got {tuple(img.shape)}.")
        array = torch.as_tensor(img).detach().cpu().numpy().astype(np.float64)
        channels = array[1:2] if self.mode.startswith("green") else array
        if self.mode.endswith("clahe"):
            channels = np.stack([equalize_adapthist(np.clip(channel, 0.0, 1.0), kernel_size=self.kernel_size,
                                                    clip_limit=self.clip_limit) for channel in channels])
        out, *_ = convert_to_dst_type(channels.astype(np.float32), img)
        return out


class FundusContrastd(MapTransform):
    """Dictionary version of :class:`FundusContrast`."""

    backend = FundusContrast.backend

    def __init__(self, keys: KeysCollection, mode: str | None, clip_limit: float = 0.01,
                 kernel_size: int | None = None, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.contrast = FundusContrast(mode, clip_limit, kernel_size)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.contrast(d[key])
        return d


FundusContrastD = FundusContrastDict = FundusContrastd
