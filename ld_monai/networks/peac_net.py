# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""PEAC's network: a Swin token encoder with the order, restoration, global and local heads (Zhou et al., "Learning
Anatomically Consistent Embedding for Chest Radiography", BMVC 2023, arXiv 2312.00335; research code
``global_local_popar_swin.py`` lines 65-206; method spec B3). Student and teacher are two of these."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ld_monai.networks.swin_tokens import SwinTokenEncoder

__all__ = ["PEACNet", "PEACTokenMap", "expander"]


def expander(in_features: int, features: Sequence[int]) -> nn.Sequential:
    """The research code's projection MLP: [Linear -> LayerNorm -> ReLU] for every width of ``features`` but the
    last, then a Linear without bias to the last width (global: 1024-8192-8192-8192, local: 1024-512-512-512)."""
    layers: list[nn.Module] = []
    for width in features[:-1]:
        layers += [nn.Linear(in_features, width), nn.LayerNorm(width), nn.ReLU(inplace=True)]
        in_features = width
    layers.append(nn.Linear(in_features, features[-1], bias=False))
    return nn.Sequential(*layers)


class PEACNet(nn.Module):
    """A view (B, C, S, S), ``S = view_size``, -> a dict of

    * ``tokens`` (B, N, D): :class:`SwinTokenEncoder`'s, ``N = (S / cell_size)^2`` row-major;
    * ``order`` (B, N, N): per token, logits of its position in the unshuffled view (POPAR's order head, a Linear);
    * ``restoration`` (B, C, S, S): the clean view rebuilt from the token map (a 1x1 convolution to
      ``cell_size^2 * C`` channels and a pixel shuffle);
    * ``global`` (B, G): the mean token through the global expander (not normalised);
    * ``local`` (B, N, L): every token through the local expander (not normalised, as the research code).

    The encoder arguments are :class:`SwinTokenEncoder`'s. The defaults are a CPU size (2.3 M encoder
    weights, 14 x 14 tokens of 16-px cells at 224 px); the research configuration is ``view_size=448,
    embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), patch_size=4, global_features=(8192, 8192,
    8192), local_features=(512, 512, 512)``.
    """

    def __init__(self, in_channels: int = 1, view_size: int = 224, embed_dim: int = 32,
                 depths: Sequence[int] = (2, 2, 2, 2), num_heads: Sequence[int] = (2, 4, 8, 16), patch_size: int = 2,
                 window_size: int = 7, drop_path_rate: float = 0.1,
                 global_features: Sequence[int] = (1024, 1024, 1024),
                 local_features: Sequence[int] = (256, 256, 256)) -> None:
        super().__init__()
        self.encoder = SwinTokenEncoder(in_channels, embed_dim, depths, num_heads, patch_size, window_size,
                                        drop_path_rate)
        self.view_size, self.cell_size, dim = view_size, self.encoder.cell_size, self.encoder.dim
        self.grid = self.encoder.token_grid(view_size, view_size)
        num_tokens = self.grid[0] * self.grid[1]
        self.order_head = nn.Linear(dim, num_tokens)
        self.restoration_head = nn.Sequential(nn.Conv2d(dim, self.cell_size ** 2 * in_channels, 1),
                                              nn.PixelShuffle(self.cell_size))
        self.global_expander = expander(dim, global_features)
        self.local_expander = expander(dim, local_features)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if tuple(x.shape[2:]) != (self.view_size, self.view_size):
            raise ValueError(f"PEACNet takes views of {self.view_size} x {self.view_size} px, got {tuple(x.shape)}.")
        tokens = self.encoder(x)
        token_map = tokens.transpose(1, 2).reshape(x.shape[0], -1, *self.grid)
        return {"tokens": tokens, "order": self.order_head(tokens), "restoration": self.restoration_head(token_map),
                "global": self.global_expander(tokens.mean(1)), "local": self.local_expander(tokens)}


class PEACTokenMap(nn.Module):
    """A :class:`PEACNet`'s tokens as a map of unit vectors: (B, C, H, W) -> ``{"embedding": (B, D, H / cell,
    W / cell)}``, the output format of :class:`ld_monai.networks.LocalDiscriminationNet`, so that the tools for
    LD embeddings (inference writers, correspondence, co-segmentation) take PEAC's patch embeddings alike. The
    encoder (a Swin, without absolute positions) takes any size in whole cells, so a whole radiograph can be
    embedded, not only a training-size view."""

    def __init__(self, network: PEACNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        grid = self.network.encoder.token_grid(*x.shape[2:])
        tokens = F.normalize(self.network.encoder(x), dim=-1)
        return {"embedding": tokens.transpose(1, 2).reshape(x.shape[0], -1, *grid)}
