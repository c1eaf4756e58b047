# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Inference for one-shot landmark detection: find the landmarks of one annotated template in new images.

* :class:`OneShotLandmarkInferer`: LD's center-sensitive embedding matching (Chen et al., arXiv 2108.09440);
* :class:`NCCTemplateMatcher`: baseline (a), normalised cross-correlation of intensity patches;
* :class:`SingleTemplateHeatmapRegressor`: baseline (b), a heatmap regressor trained on the augmented template.
"""

from __future__ import annotations

from ld_monai.inferers.ncc_template_matcher import NCCTemplateMatcher
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer, refine_subpixel, sample_embedding
from ld_monai.inferers.single_template_heatmap import SingleTemplateHeatmapRegressor

__all__ = [
    "NCCTemplateMatcher",
    "OneShotLandmarkInferer",
    "SingleTemplateHeatmapRegressor",
    "refine_subpixel",
    "sample_embedding",
]
