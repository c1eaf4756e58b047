# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The tiny VGG-BN encoder of local discrimination (Chen et al., arXiv 2108.09440; LDLearning ``vgg16_bn_tiny``)."""

from __future__ import annotations

import torch
from torch import nn

from ld_monai.networks.blocks import ConvBNReLU

__all__ = ["VGGBNTinyEncoder"]


class VGGBNTinyEncoder(nn.Module):
    """VGG-style encoder with BatchNorm: stages of 3x3 conv-BN-ReLU blocks separated by 2x2 max-pools.

    The default widths ``(16, 32, 64, 128, 128)`` with ``(2, 2, 3, 3, 3)`` convolutions per stage are the
    paper's configuration "G" (about 0.92 M parameters). ``forward`` returns the feature map of every
    stage *before* its pooling, i.e. at strides 1, 2, 4, 8, 16; the research code's last pool, whose
    output it discards, is not computed.

    Parameter names are stable (``stages.<i>.<j>.{conv,bn}``) so that an exported encoder loads by name.

    Args:
        in_channels: 3 for colour fundus, 1 for X-ray.
        channels: output width of each stage.
        convs_per_stage: number of conv-BN-ReLU blocks in each stage.

    Example::

        >>> enc = VGGBNTinyEncoder(in_channels=3)
        >>> [f.shape[1:] for f in enc(torch.zeros(1, 3, 64, 64))]
        [torch.Size([16, 64, 64]), torch.Size([32, 32, 32]), torch.Size([64, 16, 16]), torch.Size([128, 8, 8]), torch.Size([128, 4, 4])]
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: tuple[int, ...] = (16, 32, 64, 128, 128),
        convs_per_stage: tuple[int, ...] = (2, 2, 3, 3, 3),
    ) -> None:
        super().__init__()
        if len(channels) != len(convs_per_stage):
            raise ValueError(f"channels {channels} and convs_per_stage {convs_per_stage} must have the same length.")
        self.in_channels = in_channels
        self.out_channels = tuple(channels)
        self.pool = nn.MaxPool2d(2, 2)
        stages = []
        prev = in_channels
        for width, n_conv in zip(channels, convs_per_stage):
            blocks = []
            for _ in range(n_conv):
                blocks.append(ConvBNReLU(prev, width))
                prev = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        features = []
        for i, stage in enumerate(self.stages):
            if i:
                x = self.pool(x)
            x = stage(x)
            features.append(x)
        return features
