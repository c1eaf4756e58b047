# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Every picture in one place: cluster maps and embedding PCA of LD, segmentation and landmark overlays, their
palettes, and the 2-D map of embeddings coloured by landmark."""

from ld_monai.visualize.cluster_embedding_figure import (
    cluster_palette,
    embedding_pca_rgb,
    render_cluster_embedding_figure,
)
from ld_monai.visualize.embedding_scatter import render_embedding_scatter
from ld_monai.visualize.landmark_overlay import LANDMARK_COLOURS, OVERLAY_GREY_LEVELS, render_landmark_overlay
from ld_monai.visualize.segmentation_overlay import (
    FN_COLOUR,
    FP_COLOUR,
    STRUCTURE_COLOURS,
    render_segmentation_overlay,
)
