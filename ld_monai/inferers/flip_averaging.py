# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Test-time flips: the network's output averaged over mirrored copies of the input."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from monai.inferers import Inferer

__all__ = ["FlipAveragingInferer"]


class FlipAveragingInferer(Inferer):
    """Averages ``network(flip(x))``, flipped back, over every combination of flips along ``spatial_axes``.

    The default, both axes of a 2-D image, averages four passes (identity, vertical, horizontal, both): the
    test-time augmentation of the strong small vessel models (e.g. SA-UNet, Guo et al., ICPR 2020). For a network
    that commutes with flips the output is unchanged; otherwise it is made exactly flip-equivariant. Logits are
    averaged (the postprocessing applies the sigmoid), so the inferer is a drop-in for MONAI's ``SimpleInferer``.

    Args:
        spatial_axes: spatial axes (0 = first after the channel) to flip, alone and together.
    """

    def __init__(self, spatial_axes: Sequence[int] = (0, 1)) -> None:
        super().__init__()
        self.spatial_axes = tuple(int(axis) for axis in spatial_axes)
        # tensor dims (batch and channel first) of each flip: () is the identity
        self.flips = [tuple(axis + 2 for axis in combination) for size in range(len(self.spatial_axes) + 1)
                      for combination in itertools.combinations(self.spatial_axes, size)]

    def __call__(self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args, **kwargs) -> torch.Tensor:
        total = None
        for dims in self.flips:
            output = network(inputs.flip(dims) if dims else inputs, *args, **kwargs)
            output = output.flip(dims) if dims else output
            total = output if total is None else total + output
        return total / len(self.flips)
