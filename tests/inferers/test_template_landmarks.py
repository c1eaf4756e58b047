# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Template landmarks: the shared check and the pixel-centre rescaling, on known values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ld_monai.inferers import check_template_landmarks, rescale_points


def test_rescale_points_keeps_pixel_centres_on_pixel_centres():
    points = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    # pixel 0 of a 4-px row covers [0, 1) -> at 8 px it covers [0, 2): its centre 0.5 -> 1.0, i.e. pixel 0.5
    np.testing.assert_allclose(rescale_points(points, (2, 4), (4, 8)), [[0.5, 0.5], [6.5, 2.5]])
    np.testing.assert_allclose(rescale_points(rescale_points(points, (2, 4), (5, 7)), (5, 7), (2, 4)), points)


def test_check_template_landmarks():
    points = check_template_landmarks(torch.tensor([[0, 0], [9, 4]]), height=5, width=10)
    assert points.dtype == np.float64 and points.tolist() == [[0, 0], [9, 4]]
    with pytest.raises(ValueError, match=r"landmarks \[1\] lie outside the template of size \(H, W\) = \(5, 10\)"):
        check_template_landmarks([[0, 0], [10, 4]], height=5, width=10)
    with pytest.raises(ValueError, match="NaN"):
        check_template_landmarks([[np.nan, 0]], height=5, width=10)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        check_template_landmarks([[0, 0]], height=5, width=10, num_landmarks=3)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        check_template_landmarks(np.zeros((0, 2)), height=5, width=10)
