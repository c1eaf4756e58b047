# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Metrics of the LD experiments (Chen et al., arXiv 2108.09440): per-image Dice and AUC of the transfer
segmentation; radial errors and success detection rates of one-shot landmark localisation."""

from __future__ import annotations

from ld_monai.metrics.landmarks import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.metrics.segmentation import MaskedDiceMetric, as_binary, auc_per_image, dice_per_image

__all__ = [
    "MaskedDiceMetric",
    "as_binary",
    "auc_per_image",
    "dice_per_image",
    "mean_radial_error",
    "radial_errors",
    "success_detection_rates",
]
