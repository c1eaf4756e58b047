# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The classical vessel baseline of issue 19: finds dark lines, ignores the rim, and on a real DRIVE training
photograph reaches the Dice it was chosen with."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmarks.segmentation_baselines import HessianVesselFilter

@pytest.mark.parametrize("method", ["sato", "frangi"])
def test_dark_lines_on_a_bright_disc_are_found_and_the_rim_is_not(method):
    side = 128
    yy, xx = np.mgrid[:side, :side]
    fov = (yy - 64) ** 2 + (xx - 64) ** 2 < 60**2
    photograph = np.full((side, side, 3), 0.7) * fov[..., None]
    lines = (np.abs(yy - 40) <= 1) | (np.abs(xx - 80) <= 1)
    photograph[lines & fov] = 0.3
    mask = HessianVesselFilter(method)(photograph, fov)
    inner = HessianVesselFilter(method).inner(fov)
    dice = 2 * (mask & lines & inner).sum() / ((mask & inner).sum() + (lines & inner).sum())
    assert dice > 0.7
    assert not (mask & ~HessianVesselFilter(method).inner(fov)).any()
    with pytest.raises(ValueError, match="method"):
        HessianVesselFilter("matched")


def test_a_drive_training_photograph(data_dir):
    drive = data_dir / "fundus" / "DRIVE" / "training"
    photograph = np.asarray(Image.open(drive / "images" / "21_training.tif"), dtype=np.float64) / 255
    fov = np.asarray(Image.open(drive / "mask" / "21_training_mask.gif")) > 0
    truth = np.asarray(Image.open(drive / "1st_manual" / "21_manual1.gif")) > 0
    mask = HessianVesselFilter()(photograph, fov)
    dice = 2 * (mask & truth & fov).sum() / ((mask & fov).sum() + (truth & fov).sum())
    assert 0.6 < dice < 0.85
