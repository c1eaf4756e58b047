# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The local-discrimination network: encoder, U-Net decoder, embedding and clustering heads.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440 (LDLearning ``decoder``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ld_monai.networks.blocks import ConvBNReLU, set_padding_mode
from ld_monai.layers.pooling import l2_normalize
from ld_monai.networks.swin_tokens import SwinFeatureEncoder
from ld_monai.networks.vgg_bn_tiny import VGGBNTinyEncoder

__all__ = ["LocalDiscriminationNet", "LocalDiscriminationDecoder", "MONAIResNetEncoder", "build_encoder"]


class MONAIResNetEncoder(nn.Module):
    """A MONAI ``ResNetEncoder`` (2-D, random init) exposing ``out_channels`` like :class:`VGGBNTinyEncoder`.

    Its five features are at strides 2..32 (the VGG encoder's are at 1..16); the decoder upsamples to the input.
    """

    def __init__(self, name: str = "resnet10", in_channels: int = 3) -> None:
        super().__init__()
        from monai.networks.nets.resnet import ResNetEncoder

        names = ResNetEncoder.get_encoder_names()
        if name not in names:
            raise ValueError(f"unknown MONAI ResNet encoder {name!r}; choose one of {names}.")
        self.in_channels = in_channels
        self.out_channels = tuple(ResNetEncoder.num_channels_per_output()[names.index(name)])
        self.resnet = ResNetEncoder(name, pretrained=False, spatial_dims=2, in_channels=in_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.resnet(x))


def build_encoder(encoder: str | nn.Module, in_channels: int) -> nn.Module:
    """``"vgg_bn_tiny"`` (the paper's), a MONAI ResNet name (``"resnet10"``, ``"resnet18"``, ...), ``"swin"`` (the
    CPU-sized Swin of ``peac_pretraining``, :class:`ld_monai.networks.SwinFeatureEncoder`: a PEAC ``encoder.pt``
    loads into it) or a module.

    A module must return a list of feature maps (shallow to deep, each at most the previous size; the decoder
    upsamples each to the next) and have an ``out_channels`` tuple.
    """
    if isinstance(encoder, nn.Module):
        if not hasattr(encoder, "out_channels"):
            raise ValueError("a custom encoder needs an `out_channels` tuple (channels of each returned feature).")
        return encoder
    if encoder == "vgg_bn_tiny":
        return VGGBNTinyEncoder(in_channels=in_channels)
    if encoder.startswith("resnet"):
        return MONAIResNetEncoder(encoder, in_channels=in_channels)
    if encoder == "swin":
        return SwinFeatureEncoder(in_channels=in_channels)
    raise ValueError(f"unknown encoder {encoder!r}: use 'vgg_bn_tiny', a MONAI ResNet name, 'swin' or an nn.Module.")


class LocalDiscriminationDecoder(nn.Module):
    """U-Net decoder of LD: from the deepest feature, repeatedly upsample (nearest), concatenate the next
    skip feature and apply two conv-BN-ReLU blocks; the shallowest skip is only concatenated.

    For encoder widths ``c = (16, 32, 64, 128, 128)`` the blocks are 256->128->64, 128->64->32, 64->32->16 and
    the trunk has ``2 * c[0] = 32`` channels at the resolution of the shallowest feature (as in the paper).
    """

    def __init__(self, encoder_channels: Sequence[int]) -> None:
        super().__init__()
        c = tuple(encoder_channels)
        if len(c) < 2:
            raise ValueError(f"need at least two encoder features, got channels {c}.")
        blocks = []
        prev = c[-1]
        for s in range(len(c) - 2, 0, -1):
            blocks.append(nn.Sequential(ConvBNReLU(prev + c[s], c[s]), ConvBNReLU(c[s], c[s - 1])))
            prev = c[s - 1]
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = prev + c[0]

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2:0:-1]):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[2:], mode="nearest"), skip], dim=1))
        skip = features[0]
        return torch.cat([F.interpolate(x, size=skip.shape[2:], mode="nearest"), skip], dim=1)


class LocalDiscriminationNet(nn.Module):
    """Encoder + U-Net decoder + embedding head (+ clustering head) of local discrimination.

    * embedding head: conv-BN-ReLU (trunk -> D), conv 3x3 (D -> D), per-pixel L2 normalisation:
      ``z`` (B, D, H, W), unit vectors.
    * clustering head (if ``num_clusters > 0``): conv-BN-ReLU (trunk -> M), conv 3x3 (M -> M), sigmoid,
      L1 normalisation over the M channels: ``a`` (B, M, H, W), non-negative, summing to 1 per pixel.

    ``forward`` returns ``{"embedding": z, "assignment": a}`` (no ``"assignment"`` when ``num_clusters == 0``,
    the patch-discrimination stage). Patch and region features come from
    :func:`ld_monai.layers.grid_patch_features` and :func:`ld_monai.layers.region_features`.

    The encoder is ``self.encoder``; export it alone with ``net.encoder.state_dict()`` (see
    :class:`ld_monai.handlers.EncoderExporter`) for transfer to segmentation.

    Args:
        in_channels: 3 (fundus RGB) or 1 (X-ray).
        embedding_dim: D, 32 in the paper.
        num_clusters: M, 16 in the paper's LD stage; 0 for the patch-discrimination stage.
        encoder: ``"vgg_bn_tiny"`` (default, 0.92 M parameters), a MONAI ResNet name such as ``"resnet10"``,
            or a module (see :func:`build_encoder`).
        padding_mode: padding of every convolution, ``"zeros"`` (the paper's), ``"reflect"`` or ``"replicate"``
            (see :func:`ld_monai.networks.set_padding_mode`); the weights are the same whatever the mode.

    Example::

        >>> net = LocalDiscriminationNet(in_channels=3)
        >>> out = net(torch.rand(2, 3, 64, 64))
        >>> out["embedding"].shape, out["assignment"].shape
        (torch.Size([2, 32, 64, 64]), torch.Size([2, 16, 64, 64]))
    """

    def __init__(
        self,
        in_channels: int = 3,
        embedding_dim: int = 32,
        num_clusters: int = 16,
        encoder: str | nn.Module = "vgg_bn_tiny",
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if embedding_dim < 1 or num_clusters < 0:
            raise ValueError(f"embedding_dim must be >= 1 and num_clusters >= 0, got {embedding_dim}, {num_clusters}.")
        self.in_channels = in_channels
        self.embedding_dim = embedding_dim
        self.num_clusters = num_clusters
        self.encoder = build_encoder(encoder, in_channels)
        self.decoder = LocalDiscriminationDecoder(self.encoder.out_channels)
        trunk = self.decoder.out_channels
        self.embedding_head = nn.Sequential(
            ConvBNReLU(trunk, embedding_dim), nn.Conv2d(embedding_dim, embedding_dim, 3, padding=1)
        )
        self.clustering_head = (
            nn.Sequential(ConvBNReLU(trunk, num_clusters), nn.Conv2d(num_clusters, num_clusters, 3, padding=1))
            if num_clusters
            else None
        )
        self.padding_mode = padding_mode
        set_padding_mode(self, padding_mode)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input (B, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        trunk = self.decoder(self.encoder(x))
        if trunk.shape[2:] != x.shape[2:]:
            trunk = F.interpolate(trunk, size=x.shape[2:], mode="nearest")
        out = {"embedding": l2_normalize(self.embedding_head(trunk), dim=1)}
        if self.clustering_head is not None:
            s = torch.sigmoid(self.clustering_head(trunk)) + 1e-9
            out["assignment"] = s / s.sum(dim=1, keepdim=True)
        return out
