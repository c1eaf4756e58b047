# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Field-of-view (FOV) crop of colour fundus photographs.

The retinal preprocessing of local discrimination (Chen et al., arXiv 2108.09440; research code
``dataset/retinal_images/preprocessing_of_retinalDataset.py``, ``identify_roi``) crops every fundus
photograph to the bounding box of its circular field of view before resizing it to 512 x 512:

1. foreground mask: any channel > 20 (on the 0-255 scale);
2. the largest 8-connected component of the mask;
3. its bounding box, padded by 16 px on each side and clipped to the image.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms.croppad.array import Crop
from monai.transforms.croppad.dictionary import Cropd
from monai.utils import TransformBackends, convert_data_type
from scipy import ndimage

from ld_monai.data.field_of_view import largest_bright_component
from ld_monai.transforms.channels import source_name

__all__ = [
    "FundusFieldOfViewCrop",
    "FundusFieldOfViewCropd",
    "FundusFieldOfViewCropD",
    "FundusFieldOfViewCropDict",
]



class FundusFieldOfViewCrop(Crop):
    """Crop a fundus photograph to its field of view (the paper's ROI crop, research ``identify_roi``).

    Foreground = any channel ``> threshold`` (on the 0-255 scale, converted to the image's scale by
    ``value_scale``); the largest 8-connected foreground component is kept (a small bright blob such as
    a burnt-in text label is ignored); its bounding box, grown by ``margin`` pixels on each side and
    clipped to the image, is cropped with MONAI's :class:`~monai.transforms.Crop` (so the crop is
    recorded in a MetaTensor's ``applied_operations``, updates its affine and is invertible).

    Input: (C, H, W) image, C >= 1, values on 0-255 (uint8 or float) or floats in [0, 1].
    Output: (C, h, w) with ``h <= H, w <= W``, same dtype and values; MetaTensor in, MetaTensor out.

    Args:
        threshold: foreground threshold on the 0-255 scale (research code: 20).
        margin: padding of the bounding box in pixels on each side (research code: 16).
        value_scale: the image value that corresponds to 255 (255 for 8-bit images, 1.0 for images
            scaled to [0, 1]). ``None`` infers it: 1.0 for floating-point images whose maximum is <= 1,
            otherwise 255.
        min_area_fraction: raise ``ValueError`` if the largest component covers less than this fraction
            of the image (the research code drops Kaggle images below 1/4). 0 disables the check.

    Raises:
        ValueError: no pixel above the threshold (e.g. an all-black image), or the component is too small;
            the message names the file (``meta["filename_or_obj"]``).

    Example::

        crop = FundusFieldOfViewCrop()
        roi = crop(image)           # image: (3, H, W) in 0-255
        start, end = crop.compute_bounding_box(image)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        threshold: float = 20.0,
        margin: int = 16,
        value_scale: float | None = None,
        min_area_fraction: float = 0.0,
    ) -> None:
        super().__init__(lazy=False)
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}.")
        if not 0.0 <= min_area_fraction <= 1.0:
            raise ValueError(f"min_area_fraction must be in [0, 1], got {min_area_fraction}.")
        self.threshold = float(threshold)
        self.margin = int(margin)
        self.value_scale = value_scale
        self.min_area_fraction = float(min_area_fraction)

    @property
    def requires_current_data(self) -> bool:
        return True

    def compute_bounding_box(self, img: NdarrayOrTensor) -> tuple[list[int], list[int]]:
        """Return ``(start, end)`` = ``([y0, x0], [y1, x1])`` (end exclusive) of the padded, clipped FOV box."""
        name = source_name(img)
        arr = convert_data_type(img, np.ndarray)[0]
        if arr.ndim != 3:
            raise ValueError(f"{name}: expected a channel-first 2D image (C, H, W), got shape {arr.shape}.")
        scale = self.value_scale
        if scale is None:
            is_float = np.issubdtype(arr.dtype, np.floating)
            scale = 1.0 if is_float and arr.size > 0 and float(np.nanmax(arr)) <= 1.0 else 255.0
        region = largest_bright_component(arr, self.threshold * float(scale) / 255.0)
        if region is None:
            raise ValueError(
                f"{name}: no field of view found; expected a fundus photograph with pixels brighter than "
                f"{self.threshold:g}/255 (value_scale={scale:g}), got an image whose maximum is "
                f"{float(np.nanmax(arr)) if arr.size else float('nan'):g}."
            )
        height, width = region.shape
        area = int(region.sum())
        if area < self.min_area_fraction * height * width:
            raise ValueError(
                f"{name}: the field of view covers {area / (height * width):.3f} of the image; "
                f"expected at least min_area_fraction={self.min_area_fraction:g}."
            )
        rows, cols = ndimage.find_objects(region.astype(np.int32))[0]
        start = [max(rows.start - self.margin, 0), max(cols.start - self.margin, 0)]
        end = [min(rows.stop + self.margin, height), min(cols.stop + self.margin, width)]
        return start, end

    def __call__(self, img: NdarrayOrTensor, lazy: bool | None = None) -> torch.Tensor:  # type: ignore[override]
        """``img``: (C, H, W) -> (C, h, w) cropped to the padded field-of-view box."""
        start, end = self.compute_bounding_box(img)
        slices = self.compute_slices(roi_start=start, roi_end=end)
        return super().__call__(img=img, slices=slices, lazy=False)


class FundusFieldOfViewCropd(Cropd):
    """Dictionary twin of :class:`FundusFieldOfViewCrop`.

    The box is computed on ``data[source_key]`` (default: the first of ``keys``) and the same crop is
    applied to every key, so labels and masks stay aligned with the image. All keys must have the
    spatial shape of the source. Invertible through MONAI's :class:`~monai.transforms.Cropd`.
    """

    backend = FundusFieldOfViewCrop.backend

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str | None = None,
        threshold: float = 20.0,
        margin: int = 16,
        value_scale: float | None = None,
        min_area_fraction: float = 0.0,
        allow_missing_keys: bool = False,
    ) -> None:
        cropper = FundusFieldOfViewCrop(
            threshold=threshold, margin=margin, value_scale=value_scale, min_area_fraction=min_area_fraction
        )
        super().__init__(keys, cropper=cropper, allow_missing_keys=allow_missing_keys, lazy=False)
        self.source_key = source_key if source_key is not None else self.keys[0]

    @property
    def requires_current_data(self) -> bool:
        return True

    def __call__(  # type: ignore[override]
        self, data: Mapping[Hashable, NdarrayOrTensor], lazy: bool | None = None
    ) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.source_key not in d:
            raise KeyError(f"source_key {self.source_key!r} not found in the data (keys: {list(d)}).")
        source = d[self.source_key]
        start, end = self.cropper.compute_bounding_box(source)  # type: ignore[attr-defined]
        slices = self.cropper.compute_slices(roi_start=start, roi_end=end)
        src_shape = tuple(source.shape[1:])
        for key in self.key_iterator(d):
            if tuple(d[key].shape[1:]) != src_shape:
                raise ValueError(
                    f"{source_name(d[key])}: key {key!r} has spatial shape {tuple(d[key].shape[1:])}, expected "
                    f"the shape of source key {self.source_key!r} {src_shape} ({source_name(source)})."
                )
            d[key] = Crop.__call__(self.cropper, d[key], slices=slices, lazy=False)
        return d


FundusFieldOfViewCropD = FundusFieldOfViewCropDict = FundusFieldOfViewCropd
