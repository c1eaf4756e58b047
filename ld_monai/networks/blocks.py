# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Small building blocks shared by the LD networks."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

__all__ = ["ConvBNReLU", "set_padding_mode", "PADDING_MODES"]

#: the padding modes of ``nn.Conv2d``
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def set_padding_mode(module: nn.Module, mode: str) -> nn.Module:
    """Make every padded ``nn.Conv2d`` in ``module`` pad with ``mode`` (in place; returns ``module``).

    Zero padding shows a network where the border of its input is: the border pixels see zeros, and through the
    receptive field so do the pixels near it, which is how an embedding can learn a code of the position in the
    crop (a shortcut of local discrimination). With ``"reflect"`` or ``"replicate"`` a constant input gives a
    constant output: nothing marks the border. Weights and state-dict keys do not change.
    """
    if mode not in PADDING_MODES:
        raise ValueError(f"padding mode must be one of {PADDING_MODES}, got {mode!r}.")
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d) and any(p > 0 for p in layer.padding):
            layer.padding_mode = mode
    return module


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
