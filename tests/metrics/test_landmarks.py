# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.metrics.landmarks: radial errors, MRE and SDR against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ld_monai.metrics import mean_radial_error, radial_errors, success_detection_rates

NAN = float("nan")


def test_radial_errors_pixels_on_3_4_5_triangles():
    target = np.array([[[10.0, 20.0], [0.0, 0.0]], [[5.0, 5.0], [1.0, 1.0]]])
    pred = np.array([[[13.0, 24.0], [-6.0, 8.0]], [[5.0, 5.0], [1.0, 1.0 + 12.0]]])
    errors = radial_errors(pred, target)
    assert errors.shape == (2, 2) and errors.dtype == np.float64
    np.testing.assert_allclose(errors, [[5.0, 10.0], [0.0, 12.0]])
    # tensors give the same, and the order of pred and target does not matter
    np.testing.assert_allclose(radial_errors(torch.tensor(target), torch.tensor(pred)), errors)


def test_radial_errors_anisotropic_and_per_image_spacing():
    target = np.zeros((2, 1, 2))
    pred = np.array([[[3.0, 4.0]], [[3.0, 4.0]]])
    # (dx, dy) = (3, 4) px at (0.5, 2.0) mm/px -> (1.5, 8) mm -> sqrt(2.25 + 64)
    np.testing.assert_allclose(radial_errors(pred, target, spacing=(0.5, 2.0)), [[math.sqrt(66.25)]] * 2)
    # per image: image 0 isotropic 0.1 mm -> 0.5 mm; image 1 (4/3, 0.75) mm/px -> (4, 3) mm -> 5 mm
    per_image = radial_errors(pred, target, spacing=[[0.1, 0.1], [4 / 3, 0.75]])
    np.testing.assert_allclose(per_image, [[0.5], [5.0]])


def test_radial_errors_nan_propagates():
    target = np.array([[[0.0, 0.0], [NAN, NAN]]])
    pred = np.array([[[NAN, 1.0], [3.0, 4.0]]])
    assert np.isnan(radial_errors(pred, target)).all()
    assert np.isnan(radial_errors(pred, target, spacing=(1.0, 1.0))).all()


def test_radial_errors_rejects_bad_shapes_and_spacing():
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        radial_errors(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same shape"):
        radial_errors(np.zeros((1, 3, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="spacing must be"):
        radial_errors(np.zeros((3, 1, 2)), np.zeros((3, 1, 2)), spacing=np.ones((2, 2)))
    with pytest.raises(ValueError, match="positive"):
        radial_errors(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), spacing=(0.1, 0.0))


def test_mean_radial_error_excludes_nan():
    errors = np.array([[1.0, 5.0, NAN], [3.0, NAN, NAN]])
    summary = mean_radial_error(errors)
    assert summary["mre"] == pytest.approx(3.0)
    assert summary["std"] == pytest.approx(math.sqrt(8 / 3))  # deviations (-2, 2, 0), ddof=0
    assert summary["median"] == pytest.approx(3.0)
    assert summary["num_points"] == 3
    assert summary["per_landmark"][:2] == pytest.approx([2.0, 5.0])
    assert math.isnan(summary["per_landmark"][2])  # a landmark that is never present
    empty = mean_radial_error(np.full((2, 2), NAN))
    assert empty["num_points"] == 0 and math.isnan(empty["mre"]) and math.isnan(empty["median"])
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        mean_radial_error([1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        mean_radial_error([[-1.0]])


def test_mre_of_radial_errors_end_to_end():
    target = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [6.0, 8.0]], [[0.0, 0.0], [NAN, NAN]]])
    summary = mean_radial_error(radial_errors(pred, target))
    assert summary["mre"] == pytest.approx((5 + 10 + 0) / 3)
    assert summary["per_landmark"] == pytest.approx([2.5, 10.0])


def test_success_detection_rates_inclusive_radii_and_nan():
    errors = np.array([[2.0, 2.5, NAN], [1.0, 4.0, NAN], [3.0, 2.0, NAN]])
    rates = success_detection_rates(errors, [2, 2.5, 3.0, 4.0])
    assert list(rates["overall"]) == [2.0, 2.5, 3.0, 4.0]
    # six non-NaN errors: 1, 2, 2, 2.5, 3, 4; a radius equal to an error counts it (<=)
    assert rates["overall"] == pytest.approx({2.0: 3 / 6, 2.5: 4 / 6, 3.0: 5 / 6, 4.0: 1.0})
    assert rates["per_landmark"][2.0][:2] == pytest.approx([2 / 3, 1 / 3])
    assert rates["per_landmark"][2.5][:2] == pytest.approx([2 / 3, 2 / 3])
    assert rates["per_landmark"][4.0][:2] == pytest.approx([1.0, 1.0])
    assert all(math.isnan(rates["per_landmark"][r][2]) for r in rates["per_landmark"])
    # one radius as a number; below every error
    assert success_detection_rates(errors, 0.5)["overall"] == {0.5: 0.0}
    assert math.isnan(success_detection_rates(np.full((1, 1), NAN), [2.0])["overall"][2.0])


def test_success_detection_rates_rejects_bad_radii():
    with pytest.raises(ValueError, match="non-negative"):
        success_detection_rates([[1.0]], [-1.0])
    with pytest.raises(ValueError, match="at least one"):
        success_detection_rates([[1.0]], [])
