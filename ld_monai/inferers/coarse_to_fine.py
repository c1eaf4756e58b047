# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Coarse-to-fine one-shot landmark detection across two network resolutions (our addition to the matching of
Chen et al., arXiv 2108.09440, method spec A9; coarse-to-fine search as in CC2D, Yao et al., MICCAI 2021).

On the ISBI 2015 cephalograms a low network resolution finds the landmarks robustly but coarsely (a network pixel
is about 0.9 mm at 256 rows), while a high one is more precise but confuses more landmarks with look-alikes far
away. :class:`CoarseToFineLandmarkInferer` takes the best of both: the low-resolution matcher's landmarks (global
search and shape check) start the high-resolution matcher's fine and sub-pixel stages, which search only within
its ``search_radius``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ld_monai.inferers.landmark_template import LandmarkTemplate
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer
from ld_monai.inferers.template_landmarks import rescale_points
from ld_monai.inferers.template_refinement import TemplateRefinement

__all__ = ["CoarseToFineLandmarkInferer", "MultiScaleTemplate"]


@dataclass(frozen=True)
class MultiScaleTemplate:
    """The templates of the two matchers of :class:`CoarseToFineLandmarkInferer`, made from the same image."""

    coarse: LandmarkTemplate
    fine: LandmarkTemplate


class CoarseToFineLandmarkInferer:
    """Landmarks found by ``coarse`` (a low ``image_size``), then refined by ``fine`` (a higher one) around them.

    Args:
        coarse: the matcher whose whole search (coarse windows, shape check, fine stage) gives the start.
        fine: the matcher whose fine and sub-pixel stages refine it, within its ``search_radius`` network pixels.

    ``template = inferer.make_template(image, landmarks)`` (optionally :meth:`refine`), then ``inferer(query,
    template)`` -> ``{"landmarks": (K, 2) (x, y) px of the query, "confidence": (K,) of the fine stage}``.
    """

    def __init__(self, coarse: OneShotLandmarkInferer, fine: OneShotLandmarkInferer) -> None:
        self.coarse = coarse
        self.fine = fine

    def make_template(self, image: torch.Tensor, landmarks) -> MultiScaleTemplate:
        """Both matchers' templates of the annotated image."""
        return MultiScaleTemplate(self.coarse.make_template(image, landmarks),
                                  self.fine.make_template(image, landmarks))

    def refine(self, refinement: TemplateRefinement, template: MultiScaleTemplate, images: Sequence,
               load: Callable[[object], torch.Tensor] | None = None, progress: bool = False) -> MultiScaleTemplate:
        """Each matcher's template refined on the unlabeled ``images`` by its own matches."""
        return MultiScaleTemplate(refinement(self.coarse, template.coarse, images, load=load, progress=progress),
                                  refinement(self.fine, template.fine, images, load=load, progress=progress))

    def __call__(self, image: torch.Tensor, template: MultiScaleTemplate) -> dict[str, np.ndarray]:
        """(C, H, W) query in [0, 1] -> ``{"landmarks": (K, 2) (x, y) px, "confidence": (K,)}``."""
        start = torch.as_tensor(self.coarse(image, template.coarse)["landmarks"])
        embedding = self.fine.embed(image, template.fine)
        size = tuple(embedding.shape[-2:])
        at_fine = rescale_points(start, tuple(image.shape[-2:]), size).numpy()
        corners = np.clip(np.rint(at_fine), 0, [size[1] - 1, size[0] - 1]).astype(int)
        found, confidence = self.fine.fine_stage(embedding, corners, template.fine.fine)
        points = rescale_points(torch.tensor(found, dtype=torch.float64), size, tuple(image.shape[-2:]))
        return {"landmarks": points.numpy(), "confidence": np.asarray(confidence)}
