# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A Swin transformer as a token encoder: an image in, one token per cell of a grid out (PEAC's backbone: Zhou et
al., BMVC 2023, arXiv 2312.00335, research code ``global_local_popar_swin.py`` lines 65-87; method spec B3), on
MONAI's :class:`monai.networks.nets.swin_unetr.SwinTransformer` (no timm)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.nets.swin_unetr import SwinTransformer
from torch import nn

__all__ = ["SwinTokenEncoder", "SwinFeatureEncoder"]


class SwinTokenEncoder(nn.Module):
    """(B, C, H, W) -> tokens (B, N, D): patch embedding, four Swin stages and a LayerNorm, as the research code's
    Swin forward (no pooling, no classifier). ``N = (H / cell_size) * (W / cell_size)`` tokens in row-major order,
    ``cell_size = 8 * patch_size`` pixels each (three patch mergings), ``D = 8 * embed_dim``.

    MONAI's ``SwinTransformer`` merges patches after *every* stage (it feeds the SwinUNETR decoder); the merge after
    the fourth stage is removed here, so that the last stage runs at the stride of the tokens, as in the standard
    Swin (Liu et al., ICCV 2021). Swin-B at 448 px (the research backbone: ``embed_dim`` 128, ``depths``
    (2, 2, 18, 2), ``num_heads`` (4, 8, 16, 32), ``patch_size`` 4, window 7, drop path 0.1) gives 14 x 14 tokens of
    1024 channels, each a 32-px cell. H and W must be multiples of ``cell_size``.
    """

    def __init__(self, in_channels: int = 1, embed_dim: int = 32, depths: Sequence[int] = (2, 2, 2, 2),
                 num_heads: Sequence[int] = (2, 4, 8, 16), patch_size: int = 2, window_size: int = 7,
                 drop_path_rate: float = 0.1) -> None:
        super().__init__()
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f"a Swin encoder has four stages: got depths {depths}, num_heads {num_heads}.")
        self.swin = SwinTransformer(in_chans=in_channels, embed_dim=embed_dim, window_size=(window_size,) * 2,
                                    patch_size=(patch_size,) * 2, depths=depths, num_heads=num_heads,
                                    drop_path_rate=drop_path_rate, patch_norm=True, spatial_dims=2)
        self.swin.layers4[0].downsample = None
        self.cell_size, self.dim = 8 * patch_size, 8 * embed_dim
        self.norm = nn.LayerNorm(self.dim)

    def token_grid(self, height: int, width: int) -> tuple[int, int]:
        """Rows and columns of tokens of an input of ``height`` x ``width`` pixels."""
        if height % self.cell_size or width % self.cell_size:
            raise ValueError(f"the input ({height} x {width} px) must be whole cells of {self.cell_size} px.")
        return height // self.cell_size, width // self.cell_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.token_grid(*x.shape[2:])
        features = self.swin(x, normalize=False)[4]  # (B, D, H / cell, W / cell)
        return self.norm(features.flatten(2).transpose(1, 2))


class SwinFeatureEncoder(SwinTokenEncoder):
    """The same Swin (same parameter names: a PEAC ``encoder.pt`` loads into it) as the encoder of
    :class:`ld_monai.networks.TransferSegmentationNet`: ``forward`` returns the five feature maps, shallow to deep, at
    strides ``patch_size`` x (1, 2, 4, 8, 8) with ``embed_dim`` x (1, 2, 4, 8, 8) channels (``out_channels``): the
    patch embedding, the first three stages each after its patch merging, and the last stage through the encoder's
    trained LayerNorm (the tokens of :class:`SwinTokenEncoder`). The first four are layer-normalised without
    parameters, as SwinUNETR feeds its decoder (Hatamizadeh et al., 2022). For PEAC init of lung segmentation
    (Zhou et al., BMVC 2023, section 4: PEAC's encoder fine-tuned for segmentation)."""

    def __init__(self, in_channels: int = 1, embed_dim: int = 32, depths: Sequence[int] = (2, 2, 2, 2),
                 num_heads: Sequence[int] = (2, 4, 8, 16), patch_size: int = 2, window_size: int = 7,
                 drop_path_rate: float = 0.1) -> None:
        super().__init__(in_channels, embed_dim, depths, num_heads, patch_size, window_size, drop_path_rate)
        self.out_channels = tuple(embed_dim * m for m in (1, 2, 4, 8, 8))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.token_grid(*x.shape[2:])
        *shallow, last = self.swin(x, normalize=False)
        features = [F.layer_norm(f.permute(0, 2, 3, 1), f.shape[1:2]).permute(0, 3, 1, 2) for f in shallow]
        return features + [self.norm(last.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)]
