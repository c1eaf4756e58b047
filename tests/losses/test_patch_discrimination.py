# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ld_monai.losses import HypersphereMixupLoss, PatchDiscriminationLoss, invariant_spreading_loss
from ld_monai.losses.reference import batch_criterion_reference


def unit(*shape):
    return F.normalize(torch.randn(*shape), dim=1)


def test_known_value_two_orthogonal_pairs():
    # rows: e0, e1 | e0, e1 ; T = 1. For row 0: s = [., e^0, e^1, e^0] -> Z = 2 + e, P = e / (2 + e), Q_other = 1/(2+e)
    e = torch.eye(2)
    loss = invariant_spreading_loss(e, e, temperature=1.0)
    z = 2 + math.e
    expected = -(math.log(math.e / z) + 2 * math.log(1 - 1 / z))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_matches_research_batch_criterion_values_and_gradients():
    torch.manual_seed(0)
    q = unit(48, 16).requires_grad_()
    p = unit(48, 16).requires_grad_()
    ours = invariant_spreading_loss(q, p, 0.1)
    ref = batch_criterion_reference(torch.cat([q, p]), 0.1)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    g_ours = torch.autograd.grad(ours, [q, p])
    g_ref = torch.autograd.grad(ref, [q, p])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_identical_views_beat_unrelated_views():
    torch.manual_seed(0)
    f = unit(2, 32, 8, 8)
    loss = PatchDiscriminationLoss()
    assert loss(f, f) < loss(f, unit(2, 32, 8, 8)) - 1.0


def test_gradients_finite_and_keys_detached():
    torch.manual_seed(0)
    f1 = unit(2, 8, 4, 4).requires_grad_()
    f2 = unit(2, 8, 4, 4).requires_grad_()
    PatchDiscriminationLoss()(f1, f2).backward()
    assert torch.isfinite(f1.grad).all() and torch.isfinite(f2.grad).all()
    assert f1.grad.abs().sum() > 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        invariant_spreading_loss(unit(4, 3), unit(5, 3))
    with pytest.raises(ValueError, match="negatives"):
        invariant_spreading_loss(unit(1, 3), unit(1, 3))


def test_mixup_target_is_detached_lambda_mix():
    torch.manual_seed(0)
    a, b = unit(2, 16, 4, 4), unit(2, 16, 4, 4)
    lam = torch.tensor([0.3, 0.7])
    target = F.normalize(lam.view(-1, 1, 1, 1) * a + (1 - lam.view(-1, 1, 1, 1)) * b, dim=1)
    loss = HypersphereMixupLoss()
    # the mixed image's patches lying on the target score lower than lying on a source
    assert loss(target, a, b, lam) < loss(a, a, b, lam)
    src = a.clone().requires_grad_()
    mixed = target.clone().requires_grad_()
    loss(mixed, src, b, lam).backward()
    assert src.grad is None  # no gradient through the target
    assert mixed.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="lambda"):
        loss(target, a, b, torch.tensor([0.5]))


def test_a_second_copy_of_one_photograph_changes_nothing_when_copies_are_not_negatives():
    """Two images of one photograph with identical features: dropping their mutual terms gives exactly the loss
    of the photograph alone; as negatives (the paper) identical content must be told apart, and the loss rises."""
    torch.manual_seed(0)
    q, p = unit(16, 8), unit(16, 8)
    alone = invariant_spreading_loss(q, p, 0.1)
    twice_q, twice_p = torch.cat([q, q]), torch.cat([p, p])
    images = torch.arange(2).repeat_interleave(16)
    sources = torch.zeros(32, dtype=torch.long)
    dropped = invariant_spreading_loss(twice_q, twice_p, 0.1, sources, images)
    torch.testing.assert_close(dropped, alone, rtol=1e-6, atol=1e-6)
    assert float(invariant_spreading_loss(twice_q, twice_p, 0.1)) > float(alone) + 1.0
    # distinct photographs: nothing is dropped
    distinct = invariant_spreading_loss(twice_q, twice_p, 0.1, images, images)
    torch.testing.assert_close(distinct, invariant_spreading_loss(twice_q, twice_p, 0.1))
    with pytest.raises(ValueError, match="both"):
        invariant_spreading_loss(q, p, 0.1, sources[:16])
