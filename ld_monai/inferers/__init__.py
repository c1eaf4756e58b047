# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Inference for one-shot landmark detection: find the landmarks of one annotated template in new images.

* :class:`OneShotLandmarkInferer`: LD's center-sensitive embedding matching (Chen et al., arXiv 2108.09440);
* :class:`NCCTemplateMatcher`: baseline (a), normalised cross-correlation of intensity patches;
* :class:`SingleTemplateHeatmapRegressor`: baseline (b), a heatmap regressor trained on the augmented template;
* :func:`robust_affine`: the RANSAC affine fit of the inferer's shape check;
* :func:`fit_landmark_direction`: a landmark's matching direction learned from pseudo-labels (the inferer's
  self-training);
* :func:`check_template_landmarks`, :func:`rescale_points`: the template landmarks' shared check and rescaling;
* :func:`load_landmark_network`, :func:`set_landmark_template`, :func:`adapt_landmark_template`,
  :func:`detect_landmarks`: one-shot detection on files (``landmarks.csv`` and overlays), the work of the
  ``oneshot_landmark_detection`` bundle.
"""

from __future__ import annotations

from ld_monai.inferers.landmark_detection import (
    LANDMARK_COLOURS,
    LandmarkDetection,
    OVERLAY_GREY_LEVELS,
    adapt_landmark_template,
    detect_landmarks,
    load_landmark_network,
    render_landmark_overlay,
    set_landmark_template,
)
from ld_monai.inferers.landmark_direction import fit_landmark_direction
from ld_monai.inferers.ncc_template_matcher import NCCTemplateMatcher
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer, refine_subpixel, sample_embedding
from ld_monai.inferers.robust_affine import apply_affine, fit_affine, robust_affine
from ld_monai.inferers.single_template_heatmap import SingleTemplateHeatmapRegressor
from ld_monai.inferers.template_landmarks import check_template_landmarks, rescale_points

__all__ = [
    "LANDMARK_COLOURS",
    "LandmarkDetection",
    "NCCTemplateMatcher",
    "OVERLAY_GREY_LEVELS",
    "OneShotLandmarkInferer",
    "SingleTemplateHeatmapRegressor",
    "adapt_landmark_template",
    "apply_affine",
    "check_template_landmarks",
    "detect_landmarks",
    "fit_affine",
    "fit_landmark_direction",
    "load_landmark_network",
    "refine_subpixel",
    "render_landmark_overlay",
    "rescale_points",
    "robust_affine",
    "sample_embedding",
    "set_landmark_template",
]
