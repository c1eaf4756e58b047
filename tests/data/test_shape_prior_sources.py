# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import numpy as np
import pytest
from PIL import Image

from ld_monai.data import EllipsePrior, MaskFolderPrior, prior_foreground_fraction, scr_lung_masks


def test_ellipse_area_and_centre_follow_the_drawn_parameters():
    prior = EllipsePrior(size=256, radius_range=(0.1, 0.2), aspect_range=(0.5, 1.0), centre_range=0.5)
    rng = np.random.RandomState(0)
    for _ in range(20):
        state = rng.get_state()
        mask = prior(rng)
        rng.set_state(state)  # draw the same parameters again, in the order __call__ draws them
        cy, cx = (0.5 + (rng.uniform(size=2) - 0.5) * 0.5) * 256
        major = rng.uniform(0.1, 0.2) * 256
        minor = major * rng.uniform(0.5, 1.0)
        rng.uniform(0, np.pi)
        assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
        assert mask.sum() == pytest.approx(np.pi * major * minor, rel=0.03)
        rows, cols = np.nonzero(mask)
        assert (rows.mean() + 0.5, cols.mean() + 0.5) == pytest.approx((cy, cx), abs=0.5)


def test_folder_masks_binarised_downsampled_and_drawn_uniformly(tmp_path):
    big = np.zeros((1000, 800), np.uint8)
    big[100:600, 200:400] = 255  # 1/8 of the image
    Image.fromarray(big).save(tmp_path / "a.png")
    Image.fromarray((big.T > 0).astype(np.uint8)).save(tmp_path / "b.gif")  # 0/1 values, other shape
    prior = MaskFolderPrior(tmp_path, max_side=250)
    assert len(prior) == 2
    assert [m.shape for m in prior.masks] == [(250, 200), (200, 250)]
    assert all(m.dtype == bool and m.mean() == pytest.approx(0.125, abs=0.005) for m in prior.masks)
    rng = np.random.RandomState(0)
    shapes = [prior(rng).shape for _ in range(400)]
    assert 150 < shapes.count((250, 200)) < 250
    with pytest.raises(ValueError, match="empty"):
        MaskFolderPrior([np.zeros((8, 8))])


def test_scr_lungs_are_the_union_of_left_and_right(tmp_path):
    for side, columns in (("left_lung", slice(40, 60)), ("right_lung", slice(4, 24))):
        (tmp_path / "masks" / side).mkdir(parents=True)
        for name in ("JPCLN001", "JPCLN002"):
            mask = np.zeros((64, 64), np.uint8)
            mask[10:50, columns] = 255
            Image.fromarray(mask).save(tmp_path / "masks" / side / f"{name}.gif")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "masks" / "left_lung" / "JPCLN003.gif")
    masks = scr_lung_masks(tmp_path)
    assert len(masks) == 2  # JPCLN003 has no right lung
    assert masks[0].sum() == 2 * 40 * 20 and masks[0][10:50, 4:24].all() and masks[0][10:50, 40:60].all()


def test_the_research_vessel_priors_read_as_thin_masks(data_dir):
    for folder in ("OCTA_vessel_masks", "DSA_vessel_masks"):
        prior = MaskFolderPrior(data_dir / "fundus" / "shape_priors" / folder)
        assert len(prior) == 10
        assert all(0.02 < m.mean() < 0.3 and max(m.shape) <= 512 for m in prior.masks)


def test_prior_foreground_fraction_known_values():
    half = np.zeros((4, 8), dtype=np.float32)
    half[:, :4] = 1
    quarter = np.zeros((4, 8), dtype=np.float32)
    quarter[:, :2] = 1
    assert prior_foreground_fraction(MaskFolderPrior([half])) == 0.5
    assert prior_foreground_fraction(MaskFolderPrior([half, quarter]), draws=400) == pytest.approx(0.375, abs=0.02)
    # ellipses: pi a b / side^2 with a ~ U(0.08, 0.2) side, b / a ~ U(0.8, 1): E[a^2] = (0.2^3 - 0.08^3) / 0.36,
    # so E = pi * 0.0208 * 0.9 = 0.0588
    assert prior_foreground_fraction(EllipsePrior(256), draws=400) == pytest.approx(0.0588, rel=0.05)
