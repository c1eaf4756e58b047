# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A square region of interest around a segmented structure: the second stage of a cascade.

Optic cup methods segment the cup inside a crop around the optic disc, at a higher resolution than the whole
photograph allows (e.g. M-Net, Fu et al., IEEE TMI 2018: a disc-centred crop; bob.ip.binseg's Drishti-GS1
baselines reach cup Dice 0.91 at 512 px). :func:`square_around` is the geometry, shared by training
(:class:`RandCropAroundStructured`, around the labelled structure) and inference
(:class:`ld_monai.inferers.StructureCropInferer`, around a first network's prediction).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform

__all__ = ["square_around", "crop_square", "RandCropAroundStructured"]


def square_around(mask: torch.Tensor, side: int) -> tuple[int, int]:
    """Top-left corner (row, column) of the ``side`` x ``side`` square centred on the bounding box of ``mask``
    (2-D, nonzero = structure); centred on the image when ``mask`` is empty. The square may extend past the image
    (:func:`crop_square` pads)."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {tuple(mask.shape)}.")
    rows, cols = torch.nonzero(mask, as_tuple=True)
    if rows.numel():
        centre = ((rows.min() + rows.max()).item() / 2, (cols.min() + cols.max()).item() / 2)
    else:
        centre = ((mask.shape[0] - 1) / 2, (mask.shape[1] - 1) / 2)
    # half-way cases go down-right on both axes (Python's round would alternate by parity)
    return math.floor(centre[0] - (side - 1) / 2 + 0.5), math.floor(centre[1] - (side - 1) / 2 + 0.5)


def crop_square(image: torch.Tensor, top: int, left: int, side: int) -> torch.Tensor:
    """``image[..., top:top + side, left:left + side]``, zero-padded where the square leaves the image."""
    height, width = image.shape[-2:]
    pad = (max(-left, 0), max(left + side - width, 0), max(-top, 0), max(top + side - height, 0))
    if any(pad):
        image = F.pad(torch.as_tensor(image), pad)
        top, left = top + pad[2], left + pad[0]
    return image[..., top:top + side, left:left + side]


class RandCropAroundStructured(RandomizableTransform, MapTransform):
    """Crops ``keys`` to a square of ``side_fraction`` x the image's shorter side around channel ``channel`` of
    ``label_key`` (:func:`square_around`), its centre shifted by up to ``jitter`` x the side in each direction (so
    that the second stage learns to tolerate the first stage's localisation error). Zero padding outside the image
    (the normalised image's mean). An image without the structure is cropped around its centre.
    """

    def __init__(self, keys: KeysCollection, label_key: str = "label", channel: int = 0, side_fraction: float = 0.4,
                 jitter: float = 0.0, allow_missing_keys: bool = False) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob=1.0)
        if not 0.0 < side_fraction <= 1.0:
            raise ValueError(f"side_fraction must be in (0, 1], got {side_fraction}.")
        if not 0.0 <= jitter < 0.5:
            raise ValueError(f"jitter must be in [0, 0.5), got {jitter}.")
        self.label_key, self.channel = label_key, channel
        self.side_fraction, self.jitter = side_fraction, jitter
        self._shift = np.zeros(2)

    def randomize(self, data=None) -> None:
        self._shift = self.R.uniform(-self.jitter, self.jitter, size=2)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        label = d[self.label_key]
        side = max(1, int(round(self.side_fraction * min(label.shape[-2:]))))
        top, left = square_around(torch.as_tensor(label[self.channel]) > 0, side)
        top, left = top + int(round(self._shift[0] * side)), left + int(round(self._shift[1] * side))
        for key in self.key_iterator(d):
            d[key] = crop_square(d[key], top, left, side)
        return d
