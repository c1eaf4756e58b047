# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ld_monai.losses import LocalDiscriminationLoss, realign_rotated
from ld_monai.losses.reference import local_discrimination_loss_reference


def inputs(b=2, d=8, m=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(5 * b, d, size, size, generator=g), dim=1).requires_grad_()
    s = torch.rand(5 * b, m, size, size, generator=g) + 1e-9
    a = (s / s.sum(1, keepdim=True)).requires_grad_()
    k = torch.randint(0, 4, (b, 2), generator=g)
    lam = 0.2 + 0.6 * torch.rand(b, generator=g)
    return z, a, k, lam


def test_realign_rotated_undoes_each_rotation():
    f = torch.randn(4, 3, 5, 5)
    k = torch.tensor([0, 1, 2, 3])
    rotated = torch.stack([torch.rot90(f[i], int(k[i]), dims=(1, 2)) for i in range(4)])
    torch.testing.assert_close(realign_rotated(rotated, k), f)
    with pytest.raises(ValueError, match="square"):
        realign_rotated(torch.randn(1, 3, 4, 5), torch.tensor([1]))


@pytest.mark.parametrize("with_assignment", [True, False])
def test_optimised_loss_equals_research_computation(with_assignment):
    z, a, k, lam = inputs()
    a_in = a if with_assignment else None
    ours = LocalDiscriminationLoss(grid=(4, 4))(z, a_in, k, lam)
    ref = local_discrimination_loss_reference(z, a_in, k, lam, grid=(4, 4))
    assert set(ours) == set(ref)
    for name in ref:
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-5, atol=1e-5)
    params = [z, a] if with_assignment else [z]
    g_ours = torch.autograd.grad(ours["loss"], params)
    g_ref = torch.autograd.grad(ref["loss"], params)
    for x, y in zip(g_ours, g_ref):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-7)


def test_paper_weights_and_rotated_views_realign():
    z, a, k, lam = inputs(b=1)
    terms = LocalDiscriminationLoss(grid=(4, 4))(z, a, k, lam)
    total = terms["pd"] + terms["mixup"] + 10 * terms["region"] + 0.1 * terms["entropy"]
    torch.testing.assert_close(terms["loss"], total)
    # second views that are exact rotations of the first views give a lower PD term than unrotated copies
    z = z.detach().clone()
    for i in range(2):
        z[2 + i] = torch.rot90(z[i], int(k[0, i]) or 1, dims=(1, 2))
    k_used = torch.tensor([[int(k[0, 0]) or 1, int(k[0, 1]) or 1]])
    loss = LocalDiscriminationLoss(grid=(4, 4))
    aligned = loss(z, None, k_used, lam)["pd"]
    misaligned = loss(z, None, torch.zeros_like(k_used), lam)["pd"]
    assert aligned < misaligned
