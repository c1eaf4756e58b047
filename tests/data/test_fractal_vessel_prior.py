# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The simulated vessel trees: thin, branching, seeded, and shaped like real vessel masks by the shape prior's own
descriptors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser
from scipy import ndimage

from ld_monai.apps.bundles import bundle_configs
from ld_monai.data import EllipsePrior, FractalVesselPrior, MaskFolderPrior
from ld_monai.losses import ShapePriorWassersteinLoss


def test_trees_are_thin_connected_and_seeded():
    prior = FractalVesselPrior(256)
    for seed in range(4):
        tree = prior(np.random.RandomState(seed))
        assert tree.shape == (256, 256) and tree.dtype == np.float32 and set(np.unique(tree)) == {0.0, 1.0}
        assert 0.02 < tree.mean() < 0.15  # DRIVE's vessels: 5-8 % of the image at 256 px
        vessel = tree > 0
        thick = ndimage.binary_opening(vessel, structure=np.ones((7, 7)))  # nothing of a vessel tree is 7 px wide
        assert thick.sum() < 0.02 * vessel.sum()
        components, count = ndimage.label(vessel, structure=np.ones((3, 3)))
        assert np.bincount(components.ravel())[1:].max() > 0.5 * vessel.sum()  # one tree, cut by the field of view
        assert np.array_equal(tree, prior(np.random.RandomState(seed)))
    assert not np.array_equal(prior(np.random.RandomState(0)), prior(np.random.RandomState(1)))


def test_trees_look_like_drive_vessels_to_the_shape_prior(data_dir):
    """By the patch-fraction distance of the Wasserstein prior, simulated trees are closer to DRIVE's manual vessel
    masks than the disc prior's ellipses are."""
    drive = MaskFolderPrior(data_dir / "fundus" / "DRIVE" / "training" / "1st_manual")
    real = torch.stack([F.interpolate(torch.from_numpy(mask.astype(np.float32))[None, None], size=(256, 256),
                                      mode="area")[0] for mask in drive.masks[:8]])
    distance = ShapePriorWassersteinLoss()

    def draws(source) -> torch.Tensor:
        return torch.stack([torch.from_numpy(source(np.random.RandomState(seed)))[None] for seed in range(8)])

    trees, ellipses = distance(draws(FractalVesselPrior(256)), real), distance(draws(EllipsePrior(256)), real)
    assert trees < 0.5 * ellipses


def test_the_vessel_bundle_grows_trees_without_prior_dir():
    parser = ConfigParser(bundle_configs("shape_guided_vessel_segmentation")["train.json"])
    parser["prior_dir"] = None
    prior = parser.get_parsed_content("prior_source")
    assert isinstance(prior, FractalVesselPrior) and prior.size == parser.get_parsed_content("crop_size")
