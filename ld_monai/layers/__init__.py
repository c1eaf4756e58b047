# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Functional building blocks below networks, losses and inferers: unit normalisation, patch and region pooling,
center-sensitive pooling, k-means (as ``monai.networks.layers`` is for MONAI)."""

from ld_monai.layers.center_sensitive_pooling import (
    CenterSensitivePooling,
    center_sensitive_grid_features,
    center_sensitive_weights,
)
from ld_monai.layers.pooling import grid_patch_features, l2_normalize, region_features
from ld_monai.layers.kmeans import elbow_kmeans, kmeans
