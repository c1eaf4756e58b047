# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Fill the black surround of a fundus photograph with the retina's own border colours.

The field of view (FOV) of a fundus photograph is a disc of retina on black. To a convolutional network the dark
edge is content that tells how far a pixel is from the border of the image disc, the same on every photograph:
local discrimination can satisfy its objectives with bands parallel to the FOV edge instead of anatomy (the
shortcut of issue 15, on the one-photograph demo and in the clustering stage on many photographs). Extending the
retina beyond its edge removes that cue, as FOV extension does in vessel segmentation (Soares et al., "Retinal
vessel segmentation using the 2-D Gabor wavelet and supervised classification", IEEE TMI 2006, which grows the
FOV by iterated neighbour means); here every pixel outside the FOV takes the value of the nearest FOV pixel (one
Euclidean distance transform), and the filled part is smoothed so that it carries no texture of its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type
from scipy import ndimage

from ld_monai.data.field_of_view import largest_bright_component
from ld_monai.transforms.channels import source_name

__all__ = [
    "FundusFillOutsideFieldOfView",
    "FundusFillOutsideFieldOfViewd",
    "FundusFillOutsideFieldOfViewD",
    "FundusFillOutsideFieldOfViewDict",
]


class FundusFillOutsideFieldOfView(Transform):
    """Replace every pixel outside a fundus photograph's field of view by the nearest FOV pixel, smoothed.

    FOV = the largest 8-connected region where any channel exceeds ``threshold`` (on the 0-255 scale, converted
    by ``value_scale``), eroded by ``erosion`` pixels to drop the dark, blurred rim. Pixels inside keep their
    values exactly; outside, the nearest FOV pixel's value is blurred with a Gaussian of ``sigma`` pixels (only
    the filled part changes). An image without any FOV pixel is returned unchanged.

    Input: (C, H, W), values on 0-255 or in [0, 1]. Output: same shape, dtype and type (MetaTensor in, out).

    Args:
        threshold: foreground threshold on the 0-255 scale (the FOV crop's: 20).
        erosion: pixels removed from the FOV edge before filling.
        sigma: Gaussian smoothing of the filled surround, in pixels (0: none).
        value_scale: the image value that corresponds to 255 (255 for 8-bit images, 1.0 for [0, 1] images).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, threshold: float = 20.0, erosion: int = 3, sigma: float = 4.0, value_scale: float = 1.0):
        if erosion < 0 or sigma < 0:
            raise ValueError(f"erosion and sigma must be >= 0, got {erosion} and {sigma}.")
        self.threshold = float(threshold)
        self.erosion = int(erosion)
        self.sigma = float(sigma)
        self.value_scale = float(value_scale)

    def field_of_view(self, arr: np.ndarray) -> np.ndarray | None:
        """The eroded FOV mask (H, W) of ``arr`` (C, H, W), or None when no pixel is bright enough."""
        region = largest_bright_component(arr, self.threshold * self.value_scale / 255.0)
        if region is None or self.erosion == 0:
            return region
        eroded = ndimage.binary_erosion(region, iterations=self.erosion)
        return eroded if eroded.any() else region

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
        if arr.ndim != 3:
            raise ValueError(f"{source_name(img)}: expected a channel-first 2D image (C, H, W), got {arr.shape}.")
        fov = self.field_of_view(arr)
        if fov is None or fov.all():
            return img
        nearest = ndimage.distance_transform_edt(~fov, return_distances=False, return_indices=True)
        filled = arr[:, nearest[0], nearest[1]].astype(np.float32)
        if self.sigma > 0:
            filled = np.stack([ndimage.gaussian_filter(c, self.sigma, mode="nearest") for c in filled])
        out = np.where(fov[None], arr, filled.astype(arr.dtype, copy=False))
        return convert_to_dst_type(out, img)[0]


class FundusFillOutsideFieldOfViewd(MapTransform):
    """Dictionary version of :class:`FundusFillOutsideFieldOfView`."""

    backend = FundusFillOutsideFieldOfView.backend

    def __init__(
        self,
        keys: KeysCollection,
        threshold: float = 20.0,
        erosion: int = 3,
        sigma: float = 4.0,
        value_scale: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.filler = FundusFillOutsideFieldOfView(threshold, erosion, sigma, value_scale)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.filler(d[key])
        return d


FundusFillOutsideFieldOfViewD = FundusFillOutsideFieldOfViewDict = FundusFillOutsideFieldOfViewd
