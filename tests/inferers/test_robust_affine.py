# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""robust_affine recovers a known affine map exactly despite gross outliers; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ld_monai.inferers.robust_affine import apply_affine, fit_affine, robust_affine

MATRIX = np.array([[1.05, 0.1, 12.0], [-0.08, 0.95, -7.0]])


def test_fit_affine_is_exact_on_noise_free_points():
    source = np.random.default_rng(0).uniform(0, 100, (10, 2))
    np.testing.assert_allclose(fit_affine(source, apply_affine(MATRIX, source)), MATRIX, atol=1e-9)


def test_robust_affine_ignores_outliers():
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 200, (19, 2))
    target = apply_affine(MATRIX, source) + rng.normal(0, 0.5, source.shape)
    outliers = [2, 5, 11, 17]
    target[outliers] += rng.uniform(60, 120, (len(outliers), 2))
    matrix, inliers = robust_affine(source, target, tolerance=3.0)
    np.testing.assert_array_equal(np.flatnonzero(~inliers), outliers)
    np.testing.assert_allclose(apply_affine(matrix, source), apply_affine(MATRIX, source), atol=1.0)
    # plain least squares is pulled away by the same outliers
    assert np.abs(apply_affine(fit_affine(source, target), source) - apply_affine(MATRIX, source)).max() > 10


def test_robust_affine_samples_triples_of_large_sets():
    source = np.random.default_rng(2).uniform(0, 100, (60, 2))
    matrix, inliers = robust_affine(source, apply_affine(MATRIX, source), tolerance=0.5, max_triples=200)
    assert inliers.all()
    np.testing.assert_allclose(matrix, MATRIX, atol=1e-6)


@pytest.mark.parametrize("source", [np.zeros((2, 2)), np.array([[0, 0], [1, 1], [2, 2], [3, 3.0]])])
def test_bad_input(source):
    with pytest.raises(ValueError):
        robust_affine(source, source, tolerance=1.0)
