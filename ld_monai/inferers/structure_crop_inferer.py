# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Two-stage segmentation: a first network finds a structure on the whole image, the second segments a square
around it at a higher resolution (the disc-centred crop of optic cup methods, e.g. M-Net, Fu et al., IEEE TMI 2018).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from monai.inferers import Inferer, SimpleInferer
from monai.transforms.utils import get_largest_connected_component_mask
from torch import nn

from ld_monai.networks.state_dict import load_pretrained
from ld_monai.transforms.structure_crop import crop_square, square_around

__all__ = ["StructureCropInferer"]


class StructureCropInferer(Inferer):
    """``locator`` (a whole-image segmentation network, applied at ``locator_size``) finds channel ``channel``'s
    structure; the network given at call time segments the square of ``side_fraction`` x the shorter side around
    its largest component (:func:`ld_monai.transforms.square_around`), resized to ``size``; its logits are resized
    back and placed in an output of the input's size, ``background_logit`` elsewhere. Train the second network on
    the same squares around the labelled structure (:class:`ld_monai.transforms.RandCropAroundStructured`).

    Args:
        locator: first-stage network (logits, one channel per structure); used in eval mode, without gradients.
        channel: the locator's channel of the structure to crop around.
        side_fraction: side of the square, as a fraction of the image's shorter side.
        size: the second network's input size (pixels per side).
        locator_size: the locator's input size (pixels per side).
        inferer: how the second network is applied to the square (default ``SimpleInferer``; e.g. flips).
        threshold: probability above which a locator pixel belongs to the structure.
        background_logit: the output outside the square (a sigmoid of -20 is 2e-9).
    """

    def __init__(self, locator: nn.Module, channel: int = 0, side_fraction: float = 0.4, size: int = 256,
                 locator_size: int = 384, inferer: Inferer | None = None, threshold: float = 0.5,
                 background_logit: float = -20.0) -> None:
        super().__init__()
        if not 0.0 < side_fraction <= 1.0:
            raise ValueError(f"side_fraction must be in (0, 1], got {side_fraction}.")
        self.locator = locator.eval()
        self.channel, self.side_fraction, self.size, self.locator_size = channel, side_fraction, size, locator_size
        self.inferer = inferer or SimpleInferer()
        self.threshold, self.background_logit = threshold, background_logit

    @classmethod
    def from_checkpoint(cls, locator: nn.Module, checkpoint: str, **kwargs) -> StructureCropInferer:
        """The inferer with ``locator`` loaded from ``checkpoint`` (a bundle's ``model.pt``); every parameter must
        load."""
        untouched = load_pretrained(locator, checkpoint)
        if untouched:
            raise ValueError(f"locator checkpoint {checkpoint} lacks {len(untouched)} parameters, e.g. {untouched[0]}.")
        return cls(locator, **kwargs)

    @staticmethod
    def _resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
        size = (size, size) if isinstance(size, int) else size
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)

    @torch.no_grad()
    def locate(self, inputs: torch.Tensor) -> torch.Tensor:
        """The locator's mask of the structure at the input's size, largest component only: (B, H, W) bool."""
        logits = self.locator(self._resize(inputs, self.locator_size))[:, self.channel:self.channel + 1]
        mask = self._resize(logits.float(), tuple(inputs.shape[-2:]))[:, 0] > torch.logit(torch.tensor(self.threshold))
        return torch.stack([get_largest_connected_component_mask(m[None])[0] if m.any() else m for m in mask])

    def __call__(self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args, **kwargs) -> torch.Tensor:
        height, width = inputs.shape[-2:]
        side = max(1, int(round(self.side_fraction * min(height, width))))
        outputs = []
        for image, mask in zip(inputs, self.locate(inputs)):
            top, left = square_around(mask, side)
            square = self._resize(crop_square(image, top, left, side)[None], self.size)
            logits = self._resize(self.inferer(square, network, *args, **kwargs).float(), side)[0]
            output = logits.new_full((logits.shape[0], height, width), self.background_logit)
            rows, cols = slice(max(top, 0), min(top + side, height)), slice(max(left, 0), min(left + side, width))
            output[:, rows, cols] = logits[:, rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
            outputs.append(output)
        return torch.stack(outputs)
