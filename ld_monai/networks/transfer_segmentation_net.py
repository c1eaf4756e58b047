# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The downstream segmentation network of LD transfer: the pretraining encoder plus a fresh U-Net decoder.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440; LDLearning
``step2_downstream_tasks/my_models.py`` (``vgg16_decoder``): only the encoder is transferred, the decoder starts
from random weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ld_monai.networks.blocks import ConvBNReLU, set_padding_mode
from ld_monai.networks.local_discrimination_net import LocalDiscriminationDecoder, build_encoder

__all__ = ["TransferSegmentationNet"]


class TransferSegmentationNet(nn.Module):
    """Encoder + U-Net decoder + segmentation head; returns logits (B, out_channels, H, W) (apply a sigmoid).

    The decoder is LD's (nearest upsampling, conv-BN-ReLU blocks 256->128->64, 128->64->32, 64->32->16) followed by
    the downstream block 32->16->16 and a 3x3 convolution to ``out_channels``: 0.49 M decoder parameters with the
    ``vgg_bn_tiny`` encoder, as in the research code. The research head ends with a sigmoid; here the network
    returns logits so that losses and AMP stay numerically stable (``DiceLoss(sigmoid=True)``).

    :meth:`freeze_encoder` is the paper's "frozen" transfer phase: the encoder's parameters stop receiving
    gradients and its BatchNorm layers stay in eval mode (running statistics frozen) even when the engine calls
    ``network.train()`` every iteration, as MONAI's ``SupervisedTrainer`` does.

    Args:
        in_channels: 3 (fundus RGB) or 1 (X-ray).
        out_channels: number of structures (one sigmoid channel each, e.g. 2 for optic disc and cup).
        encoder: ``"vgg_bn_tiny"`` (LD's), a MONAI ResNet name or a module (see
            :func:`ld_monai.networks.build_encoder`). Load LD weights with
            :func:`ld_monai.networks.load_pretrained` (an ``encoder.pt`` export or a pretraining ``model.pt``).
        padding_mode: padding of every convolution, ``"zeros"`` (the paper's), ``"reflect"`` or ``"replicate"``;
            use the mode the encoder was pretrained with (see :func:`ld_monai.networks.set_padding_mode`).

    Example::

        >>> net = TransferSegmentationNet(in_channels=3, out_channels=1)
        >>> net(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        encoder: str | nn.Module = "vgg_bn_tiny",
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if out_channels < 1:
            raise ValueError(f"out_channels must be >= 1, got {out_channels}.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.encoder = build_encoder(encoder, in_channels)
        self.decoder = LocalDiscriminationDecoder(self.encoder.out_channels)
        width = self.encoder.out_channels[0]
        self.head = nn.Sequential(
            ConvBNReLU(self.decoder.out_channels, width),
            ConvBNReLU(width, width),
            nn.Conv2d(width, out_channels, 3, padding=1),
        )
        self.encoder_frozen = False
        self.padding_mode = padding_mode
        set_padding_mode(self, padding_mode)

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Stop (``True``) or resume (``False``) training the encoder, BatchNorm statistics included."""
        self.encoder_frozen = frozen
        self.encoder.requires_grad_(not frozen)
        self.encoder.train(self.training and not frozen)

    def train(self, mode: bool = True) -> TransferSegmentationNet:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input (B, {self.in_channels}, H, W), got {tuple(x.shape)}.")
        trunk = self.decoder(self.encoder(x))
        if trunk.shape[2:] != x.shape[2:]:
            trunk = F.interpolate(trunk, size=x.shape[2:], mode="nearest")
        return self.head(trunk)
