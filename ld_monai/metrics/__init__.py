# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Metrics of the LD experiments (Chen et al., arXiv 2108.09440): per-image Dice and AUC of the transfer
segmentation; radial errors and success detection rates of one-shot landmark localisation, and a report of them
comparing a predicted ``landmarks.csv`` with reference landmarks (:func:`landmark_report`); linear probes of frozen
per-pixel features (:func:`fit_linear_probe`); how much of an LD embedding is a function of pixel position alone
(:func:`position_leakage`)."""

from __future__ import annotations

from ld_monai.metrics.landmark_report import landmark_report
from ld_monai.metrics.landmarks import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.metrics.linear_probe import LinearProbe, fit_linear_probe, sample_probe_pixels
from ld_monai.metrics.position_leakage import (
    field_of_view_foreground,
    polar_fourier_features,
    position_leakage,
    xy_fourier_features,
)
from ld_monai.metrics.segmentation import MaskedDiceMetric, as_binary, auc_per_image, dice_per_image

__all__ = [
    "LinearProbe",
    "MaskedDiceMetric",
    "as_binary",
    "auc_per_image",
    "dice_per_image",
    "field_of_view_foreground",
    "fit_linear_probe",
    "landmark_report",
    "mean_radial_error",
    "polar_fourier_features",
    "position_leakage",
    "radial_errors",
    "sample_probe_pixels",
    "success_detection_rates",
    "xy_fourier_features",
]
