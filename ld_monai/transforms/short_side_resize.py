# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Resize so that the shorter side has a given length, keeping the aspect ratio (PEAC's ``KeepRatioResize``: Zhou et
al., BMVC 2023, arXiv 2312.00335, research code ``utils/build_loader_global_local.py``; method spec B2 step 2).
MONAI's :class:`monai.transforms.Resize` keeps the ratio only for the *longest* side (``size_mode="longest"``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import Resize
from monai.transforms.transform import MapTransform, Transform

__all__ = ["ShortSideResize", "ShortSideResized", "ShortSideResizeD", "ShortSideResizeDict"]


class ShortSideResize(Transform):
    """(C, H, W) -> (C, H', W') with ``min(H', W') == size`` and ``H' / W'`` as close to ``H / W`` as rounding
    allows, by :class:`monai.transforms.Resize` (``mode`` "area" by default, as the research code's
    ``cv2.INTER_AREA``); MetaTensor in and out, the resize recorded in its affine. With ``multiple_of`` the longer
    side is rounded to a multiple of it (and ``size`` must be one): a whole image in whole cells of a token grid."""

    backend = Resize.backend

    def __init__(self, size: int, mode: str = "area", multiple_of: int | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be positive, got {size}.")
        if multiple_of is not None and size % multiple_of:
            raise ValueError(f"size {size} is not a multiple of {multiple_of}.")
        self.size, self.mode, self.multiple_of = size, mode, multiple_of

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        spatial = image.shape[1:]
        if len(spatial) != 2:
            raise ValueError(f"ShortSideResize takes a channel-first 2-D image (C, H, W), got {tuple(image.shape)}.")
        scale = self.size / min(spatial)
        step = self.multiple_of or 1
        target = tuple(self.size if side == min(spatial) else max(self.size, round(side * scale / step) * step)
                       for side in spatial)
        return Resize(target, mode=self.mode)(image)


class ShortSideResized(MapTransform):
    """Dictionary twin of :class:`ShortSideResize`."""

    backend = ShortSideResize.backend

    def __init__(self, keys: KeysCollection, size: int, mode: str = "area", multiple_of: int | None = None,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.resize = ShortSideResize(size, mode, multiple_of)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.resize(d[key])
        return d


ShortSideResizeD = ShortSideResizeDict = ShortSideResized
