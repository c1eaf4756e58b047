# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Small building blocks shared by the LD networks."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

__all__ = ["ConvBNReLU"]


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (padding 1, with bias) -> BatchNorm2d -> ReLU, the unit of every LD conv layer.

    Children are named ``conv``, ``bn``, ``act`` so that checkpoints load by name.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(in_channels, out_channels, 3, padding=1),
                bn=nn.BatchNorm2d(out_channels),
                act=nn.ReLU(inplace=True),
            )
        )
