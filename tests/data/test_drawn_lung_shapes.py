# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The hand-drawn lung outlines: two lungs each, in place, and shaped like real lung masks."""

from __future__ import annotations

import numpy as np
from monai.bundle import ConfigParser
from scipy import ndimage

from ld_monai.apps.bundles import bundle_configs
from ld_monai.data import MaskFolderPrior, drawn_lung_masks, scr_lung_masks


def test_each_drawing_is_two_lungs_one_per_side():
    masks = drawn_lung_masks(128)
    assert len(masks) == 4 and all(mask.shape == (128, 128) and mask.dtype == bool for mask in masks)
    for mask in masks:
        components, count = ndimage.label(mask)
        assert count == 2
        centres = sorted(ndimage.center_of_mass(mask, components, [1, 2]), key=lambda centre: centre[1])
        assert centres[0][1] < 64 < centres[1][1]  # one lung each side of the midline
        assert 0.25 < mask.mean() < 0.45


def test_drawings_overlap_the_real_scr_lung_masks(data_dir):
    """Each outline overlaps the SCR masks of JSRT (247 radiographs) at a mean Dice above 0.65, far above the same
    drawing moved off the lungs."""
    real = [mask for mask in scr_lung_masks(data_dir / "xray" / "SCR_annotations", max_side=128)
            if mask.shape == (128, 128)]
    assert len(real) > 200
    for mask in drawn_lung_masks(128):
        dice = [2 * (mask & other).sum() / (mask.sum() + other.sum()) for other in real]
        shifted = np.roll(mask, 64, axis=0)  # the same drawing moved half an image down
        dice_shifted = [2 * (shifted & other).sum() / (shifted.sum() + other.sum()) for other in real]
        assert np.mean(dice) > 0.65 > np.mean(dice_shifted) + 0.2


def test_the_lung_bundle_takes_the_drawings_without_prior_dir():
    parser = ConfigParser(bundle_configs("shape_guided_lung_segmentation")["train.json"])
    parser["prior_dir"] = None
    prior = parser.get_parsed_content("prior_source")
    assert isinstance(prior, MaskFolderPrior) and len(prior) == 4
    assert np.array_equal(prior(np.random.RandomState(0)) > 0, drawn_lung_masks()[np.random.RandomState(0).randint(4)])
