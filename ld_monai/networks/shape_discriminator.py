# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The discriminator of LD's adversarial shape prior (method spec A3.4; research code ``my_models.py``)."""

from __future__ import annotations

from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["ShapeDiscriminator"]


class ShapeDiscriminator(nn.Sequential):
    """Tells a prior mask from a cluster's assignment map: one logit per image (real mask: positive).

    The research network: 5 x [3x3 conv (16, 32, 32, 32, 32 channels) -> LeakyReLU -> 2x2 max-pool], 2 x [3x3
    valid conv (32) -> LeakyReLU], global average pool, 1x1 conv (32) -> LeakyReLU -> 1x1 conv (1), built from MONAI
    ``Convolution`` blocks. The research code writes ``nn.LeakyReLU(True)``, which sets ``negative_slope=True``,
    i.e. 1: every activation is the identity and its network is linear apart from the max-pools. Here the slope
    is a real ``negative_slope`` (0.2 by default). The research network ends in a sigmoid; this one returns the
    logit, for ``BCEWithLogits`` (:class:`ld_monai.losses.ShapePriorAdversarialLoss`), which is the same loss
    computed stably. About 52 k parameters.

    Input (N, 1, H, W) with H, W >= 160 (five halvings, then two valid 3x3 convolutions); output (N, 1).

    Example::

        >>> d = ShapeDiscriminator()
        >>> d(torch.rand(2, 1, 448, 448)).shape
        torch.Size([2, 1])
    """

    def __init__(self, in_channels: int = 1, channels: tuple[int, ...] = (16, 32, 32, 32, 32),
                 negative_slope: float = 0.2) -> None:
        act = ("leakyrelu", {"negative_slope": negative_slope})
        layers, previous = [], in_channels
        for width in channels:
            layers += [Convolution(2, previous, width, kernel_size=3, act=act, norm=None), nn.MaxPool2d(2)]
            previous = width
        for _ in range(2):
            layers.append(Convolution(2, previous, previous, kernel_size=3, padding=0, act=act, norm=None))
        layers += [nn.AdaptiveAvgPool2d(1), Convolution(2, previous, previous, kernel_size=1, act=act, norm=None),
                   Convolution(2, previous, 1, kernel_size=1, conv_only=True), nn.Flatten()]
        super().__init__(*layers)
