# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Augmented shape-prior masks for LD's shape-guided segmentation (method spec A8.1, research ``my_utils.py``):
each training item carries masks of another source, drawn and augmented as the research code does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.transforms import Compose, RandFlip, RandRotate, RandScaleCrop, RandomizableTransform, Resize
from monai.utils import convert_to_tensor

from ld_monai.data.ld_batch import LDKeys

__all__ = ["prior_mask_augmentation", "RandShapePriorMasksd"]


def prior_mask_augmentation(size: int, binarise_above: float = 0.1, rotate_range: float = np.pi,
                            flip_axes: tuple[int, ...] = (1, 0)) -> Compose:
    """The research augmentation of a prior mask (1, H, W): horizontal and vertical flips (0.5 each), a rotation
    uniform in 360 degrees (bilinear), a random crop of 80-100 % of each side at a random place (the research code
    trims each side by up to 10 %), a bilinear resize to
    ``size`` x ``size``, then foreground where above ``binarise_above``. For shapes with an orientation (lungs) a
    smaller ``rotate_range`` (radians either way) and fewer ``flip_axes`` (1: left-right, 0: up-down) keep it."""
    return Compose([
        *(RandFlip(prob=0.5, spatial_axis=axis) for axis in flip_axes),
        RandRotate(range_x=rotate_range, prob=1.0, mode="bilinear", padding_mode="zeros"),
        RandScaleCrop(roi_scale=0.8, max_roi_scale=1.0, random_center=True, random_size=True),
        Resize((size, size), mode="bilinear", anti_aliasing=False),
        lambda mask: (convert_to_tensor(mask, track_meta=False) > binarise_above).float(),
    ])


class RandShapePriorMasksd(RandomizableTransform):
    """Adds ``key``: (masks_drawn x augmentations, 1, size, size) float {0, 1} prior masks to each item.

    ``source`` (for example :class:`ld_monai.data.MaskFolderPrior` or :class:`ld_monai.data.EllipsePrior`) draws
    ``masks_drawn`` masks from this transform's random state; each is augmented ``augmentations`` times by
    :func:`prior_mask_augmentation`. The research code gives every item 2 masks, each augmented twice.

    Args:
        source: callable ``(numpy RandomState) -> (H, W)`` mask.
        size: side of the masks, the training crop's side.
        key: where the masks go.
        masks_drawn: masks drawn per item.
        augmentations: augmented copies of each.
        rotate_range: largest rotation either way in radians (default: any rotation, the research code's).
        flip_axes: the axes flipped with probability 0.5 (default: both, the research code's).
    """

    def __init__(self, source: Callable[[np.random.RandomState], np.ndarray], size: int, key: str = LDKeys.PRIOR,
                 masks_drawn: int = 2, augmentations: int = 2, rotate_range: float = np.pi,
                 flip_axes: tuple[int, ...] = (1, 0)) -> None:
        RandomizableTransform.__init__(self, prob=1.0)
        self.source, self.key, self.masks_drawn, self.augmentations = source, key, masks_drawn, augmentations
        self.augment = prior_mask_augmentation(size, rotate_range=rotate_range, flip_axes=tuple(flip_axes))

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None):
        super().set_random_state(seed, state)
        self.augment.set_random_state(seed=int(self.R.randint(2**31)))
        return self

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        masks = [self.source(self.R) for _ in range(self.masks_drawn)]
        out[self.key] = torch.stack([self.augment(torch.from_numpy(mask)[None])
                                     for mask in masks for _ in range(self.augmentations)])
        return out
