# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A segmentation loss weighted by the certainty of its pseudo-labels: the refinement of LD's shape-guided
segmentation (Chen et al., arXiv 2108.09440; method spec A8.2 (b): the LD model gives a label map and an
uncertainty map that train an ordinary segmentation network).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

__all__ = ["UncertaintyWeightedLoss"]


class UncertaintyWeightedLoss(_Loss):
    """Binary cross-entropy and soft Dice of logits against pseudo-labels, each pixel weighted by its certainty.

    The target (N, 2, H, W) holds the pseudo-label in channel 0 and the weight ``w`` in [0, 1] in channel 1
    (:func:`ld_monai.inferers.pseudo_label_and_certainty`), so that MONAI's ``SupervisedTrainer`` passes both as
    its ``label``. With ``p = sigmoid(logits)`` (N, 1, H, W) and label ``y``:

        BCE  = sum w BCE(p, y) / sum w
        Dice = 1 - (2 sum w p y + s) / (sum w p + sum w y + s),   s = smooth

    and the loss is ``bce_weight BCE + dice_weight Dice``. With ``w = 1`` everywhere it is the unweighted loss.
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1e-5) -> None:
        super().__init__()
        self.bce_weight, self.dice_weight, self.smooth = bce_weight, dice_weight, smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] != 1 or target.shape[1] != 2 or logits.shape[2:] != target.shape[2:]:
            raise ValueError(f"logits must be (N, 1, H, W) and target (N, 2, H, W) [label, weight], got "
                             f"{tuple(logits.shape)} and {tuple(target.shape)}.")
        label, weight = target[:, :1].to(logits), target[:, 1:].to(logits)
        total = weight.sum().clamp_min(1e-12)
        bce = (weight * F.binary_cross_entropy_with_logits(logits, label, reduction="none")).sum() / total
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (weight * p * label).sum() + self.smooth) / ((weight * p).sum() + (weight * label).sum()
                                                                    + self.smooth)
        return self.bce_weight * bce + self.dice_weight * dice
