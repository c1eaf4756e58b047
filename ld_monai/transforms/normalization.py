# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The channel statistics that LD's fundus networks are normalised with: ImageNet's, as in the research code
(LDLearning ``transforms.Normalize``), for the LD views and the segmentation presets alike."""

from __future__ import annotations

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
