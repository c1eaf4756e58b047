# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import torch

from ld_monai.layers import grid_patch_features, region_features


def test_grid_patch_features_rotation_equivariance_and_unit_norm():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(2, 4, 32, 32), dim=1)
    p = grid_patch_features(z, (8, 8))
    torch.testing.assert_close(p.norm(dim=1), torch.ones(2, 8, 8))
    for k in range(4):
        rotated = grid_patch_features(torch.rot90(z, k, dims=(2, 3)), (8, 8))
        torch.testing.assert_close(torch.rot90(rotated, -k, dims=(2, 3)), p)


def test_region_features_equal_weighted_average():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(2, 4, 6, 5), dim=1)
    a = torch.softmax(torch.randn(2, 3, 6, 5), dim=1)
    r = region_features(z, a)
    expected = torch.nn.functional.normalize((z[:, None] * a[:, :, None]).mean(dim=(3, 4)), dim=2)
    torch.testing.assert_close(r, expected)
    # one-hot assignment of a constant-embedding region returns that embedding
    z1 = torch.zeros(1, 4, 2, 2)
    z1[:, 0] = 1
    a1 = torch.zeros(1, 2, 2, 2)
    a1[:, 0] = 1
    torch.testing.assert_close(region_features(z1, a1)[0, 0], torch.tensor([1.0, 0, 0, 0]))
