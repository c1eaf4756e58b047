# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Inferers: test-time flips (:class:`FlipAveragingInferer`) and a two-stage crop around a structure
(:class:`StructureCropInferer`) for segmentation, the structure of a shape-guided LD network
(:class:`GuidedClusterSegmenter`, :func:`guided_cluster_probability`, :func:`pseudo_label_and_certainty`), and one-shot
landmark detection,
which finds the landmarks of one annotated template in new images (Chen et al., "Unsupervised Local Discrimination
for Medical Images", arXiv 2108.09440; method spec A9).

* :class:`OneShotLandmarkInferer`: LD's center-sensitive embedding matching, stateless: ``make_template`` gives a
  :class:`LandmarkTemplate`, ``inferer(image, template)`` finds its landmarks;
* :class:`CoarseToFineLandmarkInferer` (:class:`MultiScaleTemplate`): a low-resolution matcher's landmarks refined
  by a high-resolution one's fine stage;
* :class:`LandmarkTemplate`: the template's landmark embeddings, projection, layout, channels and modality;
* :class:`TemplateRefinement` (:func:`adapt_template`, :func:`self_train_template`): a new template refined on
  unlabeled images;
* :class:`OneShotLandmarkDetector`: the protocol of a one-shot detector (``make_template``, ``__call__``), which the
  benchmark's baselines (``benchmarks/landmark_baselines``: NCC, a heatmap regressor) implement too;
* :func:`rank_templates` (:func:`cycle_errors`, :func:`probe_grid`): candidate templates ranked without labels by
  cycle consistency;
* :func:`robust_affine`: the RANSAC affine fit of the inferer's shape check;
* :func:`fit_landmark_direction`: a landmark's matching direction learned from pseudo-labels (self-training);
* :func:`check_template_landmarks`, :func:`rescale_points`: the template landmarks' shared check and rescaling;
* :func:`mutual_nearest_neighbours`, :func:`spread_pairs`, :func:`propagate_points`: correspondences between two
  images' patch embeddings (PEAC's and LD's alike; Zhou et al., BMVC 2023), and :func:`cosegment`, the parts
  of a set of images by k-means of their patch embeddings.

Detection on files (``landmarks.csv`` and overlays, the work of the ``oneshot_landmark_detection`` bundle) is an
application: :mod:`ld_monai.apps.landmark_detection`.
"""

from __future__ import annotations

from ld_monai.inferers.cosegmentation import Cosegmentation, cosegment
from ld_monai.inferers.coarse_to_fine import CoarseToFineLandmarkInferer, MultiScaleTemplate
from ld_monai.inferers.flip_averaging import FlipAveragingInferer
from ld_monai.inferers.guided_cluster import (
    GuidedClusterSegmenter,
    guided_cluster_probability,
    pseudo_label_and_certainty,
)
from ld_monai.inferers.landmark_detector import OneShotLandmarkDetector
from ld_monai.inferers.landmark_direction import fit_landmark_direction
from ld_monai.inferers.landmark_template import LandmarkTemplate
from ld_monai.inferers.patch_correspondence import (
    mutual_nearest_neighbours,
    propagate_points,
    sample_cells,
    spread_pairs,
)
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer, refine_subpixel, sample_embedding
from ld_monai.inferers.robust_affine import apply_affine, fit_affine, robust_affine
from ld_monai.inferers.structure_crop_inferer import StructureCropInferer
from ld_monai.inferers.template_landmarks import check_template_landmarks, rescale_points
from ld_monai.inferers.template_ranking import TemplateScore, cycle_errors, probe_grid, rank_templates
from ld_monai.inferers.template_refinement import TemplateRefinement, adapt_template, self_train_template

__all__ = [
    "CoarseToFineLandmarkInferer",
    "Cosegmentation",
    "FlipAveragingInferer",
    "GuidedClusterSegmenter",
    "LandmarkTemplate",
    "MultiScaleTemplate",
    "OneShotLandmarkDetector",
    "OneShotLandmarkInferer",
    "StructureCropInferer",
    "TemplateRefinement",
    "TemplateScore",
    "adapt_template",
    "apply_affine",
    "check_template_landmarks",
    "cosegment",
    "cycle_errors",
    "fit_affine",
    "fit_landmark_direction",
    "guided_cluster_probability",
    "mutual_nearest_neighbours",
    "probe_grid",
    "propagate_points",
    "pseudo_label_and_certainty",
    "rank_templates",
    "refine_subpixel",
    "rescale_points",
    "robust_affine",
    "sample_cells",
    "sample_embedding",
    "self_train_template",
    "spread_pairs",
]
