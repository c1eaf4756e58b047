# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Metrics of the LD experiments (Chen et al., arXiv 2108.09440): per-image Dice and AUC of the transfer
segmentation; radial errors and success detection rates of one-shot landmark localisation, and a report of them
comparing a predicted ``landmarks.csv`` with reference landmarks (:func:`landmark_report`)."""

from __future__ import annotations

from ld_monai.metrics.landmark_report import landmark_report
from ld_monai.metrics.landmarks import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.metrics.segmentation import MaskedDiceMetric, as_binary, auc_per_image, dice_per_image

__all__ = [
    "MaskedDiceMetric",
    "as_binary",
    "auc_per_image",
    "dice_per_image",
    "landmark_report",
    "mean_radial_error",
    "radial_errors",
    "success_detection_rates",
]
