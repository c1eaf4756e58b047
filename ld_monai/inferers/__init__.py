# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Inference for one-shot landmark detection: find the landmarks of one annotated template in new images.

* :class:`OneShotLandmarkInferer`: LD's center-sensitive embedding matching (Chen et al., arXiv 2108.09440);
* :class:`NCCTemplateMatcher`: baseline (a), normalised cross-correlation of intensity patches;
* :class:`SingleTemplateHeatmapRegressor`: baseline (b), a heatmap regressor trained on the augmented template;
* :func:`robust_affine`: the RANSAC affine fit of the inferer's shape check;
* :func:`fit_landmark_direction`: a landmark's matching direction learned from pseudo-labels (the inferer's
  self-training);
* :func:`check_template_landmarks`, :func:`rescale_points`: the template landmarks' shared check and rescaling.

Detection on files (``landmarks.csv`` and overlays, the work of the ``oneshot_landmark_detection`` bundle) is an
application: :mod:`ld_monai.apps.landmark_detection`.
"""

from __future__ import annotations

from ld_monai.inferers.landmark_direction import fit_landmark_direction
from ld_monai.inferers.ncc_template_matcher import NCCTemplateMatcher
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer, refine_subpixel, sample_embedding
from ld_monai.inferers.robust_affine import apply_affine, fit_affine, robust_affine
from ld_monai.inferers.single_template_heatmap import SingleTemplateHeatmapRegressor
from ld_monai.inferers.template_landmarks import check_template_landmarks, rescale_points

__all__ = [
    "NCCTemplateMatcher",
    "OneShotLandmarkInferer",
    "SingleTemplateHeatmapRegressor",
    "apply_affine",
    "check_template_landmarks",
    "fit_affine",
    "fit_landmark_direction",
    "refine_subpixel",
    "rescale_points",
    "robust_affine",
    "sample_embedding",
]
