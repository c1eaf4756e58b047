# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""CoarseToFineLandmarkInferer on a real cephalogram: a known shift is recovered within a pixel across the two
resolutions; the fine stage never leaves its search radius around the coarse landmarks; refinement refines both
templates."""

from __future__ import annotations

import numpy as np
import torch

from ld_monai.inferers import CoarseToFineLandmarkInferer, MultiScaleTemplate, OneShotLandmarkInferer
from ld_monai.inferers import TemplateRefinement

from .conftest import SIZE, LocalContrastFilters


def two_scales(search_radius: int = 6) -> CoarseToFineLandmarkInferer:
    """The matcher at half the test images' size, refined at their size."""
    network = LocalContrastFilters().eval()
    coarse = OneShotLandmarkInferer(network, image_size=(SIZE[0] // 2, SIZE[1] // 2), normalize=lambda x: x,
                                    coarse_window=17, fine_window=7, search_radius=4)
    fine = OneShotLandmarkInferer(network, image_size=SIZE, normalize=lambda x: x, search_radius=search_radius)
    return CoarseToFineLandmarkInferer(coarse, fine)


def test_recovers_a_known_shift(cephalogram):
    image, points = cephalogram
    inferer = two_scales()
    template = inferer.make_template(image, points)
    assert isinstance(template, MultiScaleTemplate) and template.fine.points.shape == (19, 2)
    dx, dy = 5, -7
    found = inferer(torch.roll(image, shifts=(dy, dx), dims=(1, 2)), template)
    assert found["landmarks"].shape == (19, 2) and found["confidence"].shape == (19,)
    np.testing.assert_array_less(np.abs(found["landmarks"] - (points + [dx, dy])), 1.0)


def test_fine_stage_stays_near_the_coarse_landmarks(cephalogram):
    """On an unrelated query the coarse landmarks are arbitrary; the result is still within the fine search radius
    (plus the sub-pixel step and rounding) of them, in pixels of the image (= the fine network's here)."""
    image, points = cephalogram
    inferer = two_scales(search_radius=3)
    template = inferer.make_template(image, points)
    query = torch.rand(image.shape, generator=torch.Generator().manual_seed(1))
    coarse = inferer.coarse(query, template.coarse)["landmarks"]
    found = inferer(query, template)["landmarks"]
    assert np.abs(found - coarse).max() <= 3 + 1 + 0.5 + 1e-6


def test_refine_refines_both_templates(cephalogram):
    image, points = cephalogram
    inferer = two_scales()
    template = inferer.make_template(image, points)
    queries = [torch.roll(image, shifts=(s, -s), dims=(1, 2)) for s in (3, 6)]
    refined = inferer.refine(TemplateRefinement(adapt_rounds=1, adapt_fraction=1.0, self_train_fraction=0.0),
                             template, queries)
    for own, new in ((template.coarse, refined.coarse), (template.fine, refined.fine)):
        assert new.coarse.shape == own.coarse.shape and not torch.equal(new.coarse, own.coarse)
        torch.testing.assert_close(new.own_coarse, own.own_coarse)
