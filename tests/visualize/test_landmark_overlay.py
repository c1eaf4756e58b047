# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import numpy as np
import torch

from ld_monai.visualize import LANDMARK_COLOURS, OVERLAY_GREY_LEVELS, render_landmark_overlay

POINTS = np.array([[4.0, 10.0], [30.0, 2.5]])  # (x, y) px


def test_overlay_marks_each_landmark_in_its_colour():
    image = torch.full((1, 40, 60), 0.5)
    picture = render_landmark_overlay(image, POINTS)
    assert picture.mode == "P" and picture.size == (60, 40)
    rgb = np.asarray(picture.convert("RGB"))
    for k, (x, y) in enumerate(POINTS):
        assert tuple(rgb[round(y), round(x)]) == LANDMARK_COLOURS[k]
    assert len(np.unique(np.asarray(picture))) <= OVERLAY_GREY_LEVELS + len(LANDMARK_COLOURS)
    small = render_landmark_overlay(torch.full((1, 400, 600), 0.5), POINTS * 10, max_side=120)
    assert small.size == (120, 80)
    assert tuple(np.asarray(small.convert("RGB"))[20, 8]) == LANDMARK_COLOURS[0]  # (40, 100) / 5
