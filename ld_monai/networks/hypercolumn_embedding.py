# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Per-pixel descriptors of an LD network for matching: its encoder features at several depths, upsampled and
stacked (hypercolumns, Hariharan et al., "Hypercolumns for object segmentation and fine-grained localization",
CVPR 2015), optionally with the LD embedding.

One-shot landmark matching compares a template pixel with every query pixel. The 32-D LD embedding (Chen et al.,
arXiv 2108.09440) is trained to tell patches apart within a crop; the deeper encoder features see more context,
which tells apart look-alike structures across the whole image. Multi-depth features are also what CC2D (Yao et
al., "One-shot medical landmark detection", MICCAI 2021) matches. On the Hamedan cephalograms they match far
better than the embedding alone (``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ld_monai.layers.pooling import l2_normalize

__all__ = ["HypercolumnEmbedding"]


class HypercolumnEmbedding(nn.Module):
    """Per-pixel descriptors from an LD network's encoder features (and embedding), nearly unit vectors.

    Each part (encoder level ``l`` of ``levels``, 0 = the shallowest; the LD embedding when ``include_embedding``)
    is L2-normalised per pixel at its own resolution, bilinearly upsampled to the input size, and the parts are
    concatenated and divided by sqrt(number of parts): the dot product of two descriptors is the mean of the
    parts' dot products (cosines where the upsampled parts stay unit, i.e. away from sharp feature changes).
    Normalising before upsampling is 2.5x cheaper than after, and matching normalises its window averages anyway.

    Args:
        network: a :class:`ld_monai.networks.LocalDiscriminationNet` (``encoder``, ``decoder``, ``embedding_head``).
        levels: encoder levels to stack; the tiny VGG-BN encoder has 5 (16, 32, 64, 128, 128 channels at 1, 1/2,
            ..., 1/16 of the input size).
        include_embedding: also stack the LD embedding (D = 32).

    ``forward(x)`` for x (B, C, H, W) returns (B, sum of channels, H, W).
    """

    def __init__(self, network: nn.Module, levels: Sequence[int] = (1, 2, 3, 4), include_embedding: bool = False):
        super().__init__()
        num_levels = len(network.encoder.out_channels)
        self.levels = tuple(int(level) for level in levels)
        if not self.levels and not include_embedding:
            raise ValueError("give at least one encoder level or include_embedding=True.")
        if any(not 0 <= level < num_levels for level in self.levels):
            raise ValueError(f"levels must be in [0, {num_levels - 1}] for this encoder, got {self.levels}.")
        self.network = network
        self.include_embedding = bool(include_embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.network.encoder(x)
        scale = 1.0 / (len(self.levels) + self.include_embedding) ** 0.5
        parts = [
            F.interpolate(l2_normalize(features[level], dim=1) * scale, size=x.shape[2:], mode="bilinear",
                          align_corners=False)
            for level in self.levels
        ]
        if self.include_embedding:
            trunk = self.network.decoder(features)
            if trunk.shape[2:] != x.shape[2:]:
                trunk = F.interpolate(trunk, size=x.shape[2:], mode="nearest")
            parts.append(l2_normalize(self.network.embedding_head(trunk), dim=1) * scale)
        return torch.cat(parts, dim=1)
