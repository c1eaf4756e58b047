# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The appearance corruptions that POPAR and PEAC restore (Zhou et al., BMVC 2023, arXiv 2312.00335, research code
``utils/build_loader_global_local.py`` ``build_md_transform``; method spec B2 step 8), after Models Genesis (Zhou et
al., "Models Genesis", Medical Image Analysis 2021): local pixel shuffling, a non-linear intensity mapping by a random
cubic Bezier curve, and in- or out-painting with noise. Images are channel-first (C, H, W) with intensities in
[0, 1] (before normalisation).
"""

from __future__ import annotations

import numpy as np
import torch
from monai.transforms import Compose, Identity, OneOf, RandCoarseDropout
from monai.transforms.transform import RandomizableTransform
from monai.utils import TransformBackends, convert_to_dst_type

__all__ = ["RandLocalPixelShuffle", "RandBezierIntensity", "appearance_corruption", "bezier_intensity_curve"]


class RandLocalPixelShuffle(RandomizableTransform):
    """Local pixel shuffling: ``num_blocks`` rectangles, each side uniform in [1, side / ``block_fraction``]
    pixels (10: up to H/10 x W/10, the research setting) and placed uniformly, have their pixels permuted within the
    rectangle, one block after another. The channels of a pixel move together, so colours stay the image's own
    (MONAI's ``RandCoarseShuffle`` shuffles every channel separately, which makes new colours in a fundus
    photograph)."""

    backend = [TransformBackends.TORCH]

    def __init__(self, num_blocks: int = 40, block_fraction: int = 10, prob: float = 1.0) -> None:
        RandomizableTransform.__init__(self, prob)
        self.num_blocks, self.block_fraction = num_blocks, block_fraction

    def __call__(self, image: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        if randomize:
            self.randomize(None)
        if not self._do_transform:
            return image
        out = image.clone()
        height, width = image.shape[1:]
        for _ in range(self.num_blocks):
            rows = int(self.R.randint(1, max(height // self.block_fraction, 1) + 1))
            columns = int(self.R.randint(1, max(width // self.block_fraction, 1) + 1))
            top, left = int(self.R.randint(0, height - rows + 1)), int(self.R.randint(0, width - columns + 1))
            block = out[:, top: top + rows, left: left + columns].reshape(out.shape[0], -1)
            order = torch.as_tensor(self.R.permutation(rows * columns))
            out[:, top: top + rows, left: left + columns] = block[:, order].reshape(out.shape[0], rows, columns)
        return out


def bezier_intensity_curve(control: np.ndarray, samples: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Points of the cubic Bezier curve through (0, 0) and (1, 1) with inner control points ``control`` (2, 2):
    ``B(t) = (1-t)^3 P0 + 3(1-t)^2 t P1 + 3(1-t) t^2 P2 + t^3 P3``; returns its x and y at ``samples`` values of t."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    points = np.concatenate([[[0.0, 0.0]], control, [[1.0, 1.0]]])
    curve = (1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1] + 3 * (1 - t) * t ** 2 * points[2] \
        + t ** 3 * points[3]
    return curve[:, 0], curve[:, 1]


class RandBezierIntensity(RandomizableTransform):
    """Non-linear intensity mapping: two inner control points uniform in [0, 1]^2 give a cubic Bezier curve from
    (0, 0) to (1, 1) (:func:`bezier_intensity_curve`); its x and y values, each sorted, are a monotone increasing
    map ``f`` of [0, 1] onto [0, 1], and with probability ``invert_prob`` the map is ``1 - f`` (Models Genesis sorts
    only the x values for that half, which reverses the curve). Every intensity ``v`` becomes ``f(v)`` by linear
    interpolation: a monotone map, the same for every pixel and channel."""

    backend = [TransformBackends.TORCH]

    def __init__(self, prob: float = 0.9, invert_prob: float = 0.5) -> None:
        RandomizableTransform.__init__(self, prob)
        self.invert_prob = invert_prob

    def __call__(self, image: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        if randomize:
            self.randomize(None)
        if not self._do_transform:
            return image
        x, y = bezier_intensity_curve(self.R.uniform(0.0, 1.0, size=(2, 2)))
        x, y = np.sort(x), np.sort(y)
        if self.R.uniform() < self.invert_prob:
            y = 1 - y
        mapped = np.interp(image.detach().cpu().numpy().astype(np.float64), x, y)
        return convert_to_dst_type(mapped, image, dtype=image.dtype)[0]


def appearance_corruption(view_size: int, prob: float = 0.9, outpaint_prob: float = 0.8) -> Compose:
    """PEAC's appearance corruption of a ``view_size`` x ``view_size`` view (method spec B2 step 8), in Models
    Genesis' order: :class:`RandLocalPixelShuffle` (40 blocks up to a tenth of a side), :class:`RandBezierIntensity`
    (probability ``prob``), then with probability ``prob`` out-painting (probability ``outpaint_prob``: up to 5
    rectangles of 3/7 to 4/7 of a side keep the image, uniform noise in [0, 1) elsewhere; Models Genesis' sizes)
    or else in-painting (up to 5 noise rectangles of a sixth to a third of a side), by MONAI's
    :class:`~monai.transforms.RandCoarseDropout`."""
    inpaint = RandCoarseDropout(holes=1, max_holes=5, spatial_size=max(view_size // 6, 1),
                                max_spatial_size=max(view_size // 3, 1), fill_value=(0.0, 1.0), prob=1.0)
    outpaint = RandCoarseDropout(holes=1, max_holes=5, spatial_size=max(3 * view_size // 7, 1),
                                 max_spatial_size=max(4 * view_size // 7, 1), dropout_holes=False,
                                 fill_value=(0.0, 1.0), prob=1.0)
    painting = OneOf([outpaint, inpaint], weights=[outpaint_prob, 1 - outpaint_prob])
    return Compose([RandLocalPixelShuffle(), RandBezierIntensity(prob=prob),
                    OneOf([painting, Identity()], weights=[prob, 1 - prob])])
