# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Segmentation metrics of the LD transfer experiments (Chen et al., arXiv 2108.09440): per-image Dice and AUC."""

from __future__ import annotations

from ld_monai.metrics.segmentation import MaskedDiceMetric, as_binary, auc_per_image, dice_per_image

__all__ = ["MaskedDiceMetric", "as_binary", "auc_per_image", "dice_per_image"]
