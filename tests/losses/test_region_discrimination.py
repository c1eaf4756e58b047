# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ld_monai.losses import AssignmentEntropyLoss, RegionDiscriminationLoss
from ld_monai.layers import region_features


def test_correct_clustering_scores_lower_than_shuffled():
    # two images, two structures with distinct embeddings; the correct assignment follows the structures
    z = torch.zeros(2, 2, 4, 4)
    z[:, 0, :, :2] = 1  # left half: structure A -> e0
    z[:, 1, :, 2:] = 1  # right half: structure B -> e1
    correct = torch.zeros(2, 2, 4, 4)
    correct[:, 0, :, :2] = 1
    correct[:, 1, :, 2:] = 1
    torch.manual_seed(0)
    shuffled = correct.flatten(2)[:, :, torch.randperm(16)].view(2, 2, 4, 4)
    loss = RegionDiscriminationLoss()
    good = loss(region_features(z, correct))
    bad = loss(region_features(z, shuffled))
    assert good < bad
    # perfectly separated orthogonal regions: softmax over [1/T, 0] for each region
    assert good.item() == pytest.approx(-math.log(math.exp(5) / (math.exp(5) + 1)), rel=1e-5)


def test_region_loss_gradient_finite_and_shape_check():
    r = F.normalize(torch.randn(4, 3, 8), dim=2).requires_grad_()
    RegionDiscriminationLoss()(r).backward()
    assert torch.isfinite(r.grad).all()
    with pytest.raises(ValueError):
        RegionDiscriminationLoss()(torch.randn(4, 8))


def test_entropy_known_values():
    loss = AssignmentEntropyLoss()
    one_hot = torch.zeros(1, 2, 3, 3)
    one_hot[:, 0] = 1
    assert loss(one_hot).item() == pytest.approx(0.0, abs=1e-7)
    half = torch.full((1, 2, 3, 3), 0.5)
    assert loss(half).item() == pytest.approx(1.0, rel=1e-6)  # one bit
    a = torch.softmax(torch.randn(2, 4, 5, 5), dim=1).requires_grad_()
    ref = (-a * torch.log2(a + 1e-30) - (1 - a) * torch.log2(1 - a + 1e-30)).mean()
    torch.testing.assert_close(loss(a), ref)
    loss(a).backward()
    assert torch.isfinite(a.grad).all()


def test_entropy_gradient_is_finite_at_saturated_assignments():
    # a cluster pushed to 1 saturates: sigmoid(30) + 1e-9 normalised over 3 clusters rounds to exactly 1 in float32
    scores = torch.tensor([30.0, -100.0, -100.0], requires_grad=True)
    s = torch.sigmoid(scores) + 1e-9
    a = (s / s.sum()).reshape(1, 3, 1, 1)
    assert a[0, 0].item() == 1.0
    value = AssignmentEntropyLoss()(a)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.isfinite(scores.grad).all()
