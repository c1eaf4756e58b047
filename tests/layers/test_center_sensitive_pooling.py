# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Center-sensitive averaging: the bell's weights, the centre property, uniform limit, rotation equivariance."""

from __future__ import annotations

import math

import pytest
import torch

from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.layers import (
    CenterSensitivePooling,
    center_sensitive_grid_features,
    center_sensitive_weights,
    grid_patch_features,
    l2_normalize,
)


def test_weights_known_values():
    w = center_sensitive_weights(3, 1.0)
    bell = torch.tensor([math.exp(-0.5), 1.0, math.exp(-0.5)])
    expected = bell[:, None] * bell[None, :]
    torch.testing.assert_close(w, expected / expected.sum())
    assert float(w.sum()) == pytest.approx(1.0)
    assert w.argmax() == 4  # the centre
    torch.testing.assert_close(w, w.T)
    torch.testing.assert_close(w, torch.flip(w, dims=(0, 1)))
    torch.testing.assert_close(center_sensitive_weights(4, math.inf), torch.full((4, 4), 1 / 16))
    with pytest.raises(ValueError):
        center_sensitive_weights(0, 1.0)


def test_dense_pooling_unit_and_centre_property():
    torch.manual_seed(0)
    z = l2_normalize(torch.randn(2, 16, 40, 40), dim=1)
    centred = CenterSensitivePooling(15)(z)
    uniform = CenterSensitivePooling(15, sigma=1e6)(z)  # (numerically) a box average
    torch.testing.assert_close(torch.linalg.vector_norm(centred, dim=1), torch.ones(2, 40, 40))
    # the window's embedding says more about its centre pixel than a box average of the same window does
    assert (centred * z).sum(1).mean() > 2 * (uniform * z).sum(1).mean()
    # a constant field is unchanged (also at the border: the missing weight mass is normalised away)
    const = l2_normalize(torch.ones(1, 4, 10, 10), dim=1)
    torch.testing.assert_close(CenterSensitivePooling(7)(const), const)
    with pytest.raises(ValueError, match="odd"):
        CenterSensitivePooling(4)


def test_dense_pooling_is_shift_equivariant():
    torch.manual_seed(1)
    z = l2_normalize(torch.randn(1, 8, 48, 48), dim=1)
    pool = CenterSensitivePooling(9)
    shifted = torch.roll(z, shifts=(3, -5), dims=(2, 3))
    inner = (..., slice(12, -12), slice(12, -12))  # away from the borders and the wrapped seam
    torch.testing.assert_close(torch.roll(pool(z), (3, -5), (2, 3))[inner], pool(shifted)[inner])


def test_grid_features_uniform_limit_and_rotation():
    torch.manual_seed(2)
    z = l2_normalize(torch.randn(3, 8, 64, 64), dim=1)
    torch.testing.assert_close(center_sensitive_grid_features(z, (8, 8), math.inf), grid_patch_features(z, (8, 8)))
    cs = center_sensitive_grid_features(z, (8, 8), 0.25)
    assert not torch.allclose(cs, grid_patch_features(z, (8, 8)))
    rotated = center_sensitive_grid_features(torch.rot90(z, 1, dims=(2, 3)), (8, 8), 0.25)
    torch.testing.assert_close(rotated, torch.rot90(cs, 1, dims=(2, 3)))
    with pytest.raises(ValueError, match="divisible"):
        center_sensitive_grid_features(z[..., :60], (8, 8))


def test_loss_flag_uses_center_sensitive_patches():
    torch.manual_seed(3)
    b = 2
    embedding = l2_normalize(torch.randn(5 * b, 8, 32, 32), dim=1)
    k, lam = torch.zeros(b, 2, dtype=torch.long), torch.full((b,), 0.5)
    plain = LocalDiscriminationLoss(grid=(4, 4))(embedding, None, k, lam)["pd"]
    centred = LocalDiscriminationLoss(grid=(4, 4), center_sensitive=True)(embedding, None, k, lam)["pd"]
    uniform = LocalDiscriminationLoss(grid=(4, 4), center_sensitive=True, center_sigma_fraction=math.inf)(
        embedding, None, k, lam)["pd"]
    torch.testing.assert_close(uniform, plain)
    assert not torch.isclose(centred, plain)


def test_separable_pooling_equals_the_2d_bell():
    torch.manual_seed(4)
    z = l2_normalize(torch.randn(1, 6, 30, 26), dim=1)
    pool = CenterSensitivePooling(11, sigma=2.5)
    kernel = center_sensitive_weights(11, 2.5).expand(6, 1, 11, 11)
    direct = l2_normalize(torch.nn.functional.conv2d(z, kernel, padding=5, groups=6), dim=1)
    torch.testing.assert_close(pool(z), direct)
    valid = torch.nn.functional.conv2d(z, kernel, groups=6)  # only where the whole window fits
    torch.testing.assert_close(pool.average(z, padding=False), valid)
    for stride in (2, 3):  # every stride-th pixel, from the first: (ceil(30 / stride), ceil(26 / stride))
        torch.testing.assert_close(pool(z, stride), direct[..., ::stride, ::stride])
