# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ld_monai.losses import LocalDiscriminationLoss, match_cells_by_overlap, realign_second_view
from ld_monai.transforms import LocalDiscriminationViewsd
from ld_monai.losses.reference import local_discrimination_loss_reference


def inputs(b=2, d=8, m=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(5 * b, d, size, size, generator=g), dim=1).requires_grad_()
    s = torch.rand(5 * b, m, size, size, generator=g) + 1e-9
    a = (s / s.sum(1, keepdim=True)).requires_grad_()
    k = torch.randint(0, 4, (b, 2), generator=g)
    lam = 0.2 + 0.6 * torch.rand(b, generator=g)
    return z, a, k, lam


def test_realign_second_view_undoes_each_turn_and_mirror_bit_for_bit():
    f = torch.randn(8, 3, 5, 5)
    code = torch.arange(8)
    turned = torch.stack([LocalDiscriminationViewsd._turn(f[i], int(code[i])) for i in range(8)])
    assert torch.equal(realign_second_view(turned, code), f)
    # a mirrored view differs from every pure rotation of a generic map: the mirror is not one of the turns
    assert not any(torch.equal(turned[4], torch.rot90(f[4], r, dims=(1, 2))) for r in range(4))
    with pytest.raises(ValueError, match="square"):
        realign_second_view(torch.randn(1, 3, 4, 5), torch.tensor([1]))
    with pytest.raises(ValueError, match="0..7"):
        realign_second_view(f[:1], torch.tensor([8]))


def test_match_cells_by_overlap_known_values():
    box = torch.tensor([[10.0, 20.0, 80.0, 80.0]])
    index, valid = match_cells_by_overlap(box, box, (4, 4))
    assert torch.equal(index, torch.arange(16)[None]) and bool(valid.all())
    # second crop shifted right by exactly one cell (20 px): cell (r, c) of crop 1 is cell (r, c - 1) of crop 2
    index, valid = match_cells_by_overlap(box, torch.tensor([[10.0, 40.0, 80.0, 80.0]]), (4, 4))
    grid_index, grid_valid = index.reshape(4, 4), valid.reshape(4, 4)
    assert not bool(grid_valid[:, 0].any()) and bool(grid_valid[:, 1:].all())
    assert torch.equal(grid_index[:, 1:], (torch.arange(4)[:, None] * 4 + torch.arange(3)[None]))
    # shifted by 0.4 cell (8 px): still the same cells (60 % overlap); by 0.6 cell: the next cell (60 %)
    index, valid = match_cells_by_overlap(box, torch.tensor([[10.0, 28.0, 80.0, 80.0]]), (4, 4))
    assert torch.equal(index.reshape(4, 4)[:, :], torch.arange(16).reshape(4, 4)) and bool(valid.all())
    index, valid = match_cells_by_overlap(box, torch.tensor([[10.0, 32.0, 80.0, 80.0]]), (4, 4))
    assert torch.equal(index.reshape(4, 4)[:, 1:], torch.arange(16).reshape(4, 4)[:, :3])
    # shifted by half a cell both ways: a quarter of each cell is shared, below one half: nothing matches
    _, valid = match_cells_by_overlap(box, torch.tensor([[20.0, 30.0, 80.0, 80.0]]), (4, 4))
    assert not bool(valid.any())


def test_overlap_matching_with_equal_boxes_is_the_papers_loss():
    z, a, k, lam = inputs()
    boxes = torch.tensor([5.0, 7.0, 16.0, 16.0]).expand(2, 2, 2, 4)
    loss = LocalDiscriminationLoss(grid=(4, 4))
    with_boxes, without = loss(z, a, k, lam, boxes), loss(z, a, k, lam)
    for name in without:
        torch.testing.assert_close(with_boxes[name], without[name], rtol=1e-6, atol=1e-6)


def test_overlap_matching_pairs_the_same_image_content():
    """Two crops of one feature map, shifted by two cells: matched cells have equal features, so PD is lower
    with the boxes than when cells are paired by their index (which pairs different content)."""
    g = torch.Generator().manual_seed(0)
    b, d, cell = 2, 16, 4
    full = F.normalize(torch.randn(2 * b, d, 8, 6, generator=g), dim=1)  # 8 x 6 cells of content per image
    first = full[:, :, :, :4].repeat_interleave(cell, 2).repeat_interleave(cell, 3)  # columns 0-3
    second = full[:, :, :, 2:6].repeat_interleave(cell, 2).repeat_interleave(cell, 3)  # columns 2-5
    first, second = first[:, :, :16], second[:, :, :16]  # rows 0-3: 16 x 16 px, a 4 x 4 grid
    mix = F.normalize(first[:b] + first[b:], dim=1)
    z = torch.cat([first, second, mix])  # [v1 image1, v1 image2, v2 image1, v2 image2, mix]
    k = torch.zeros(b, 2, dtype=torch.long)
    lam = torch.full((b,), 0.5)
    box1, box2 = torch.tensor([0.0, 0.0, 16.0, 16.0]), torch.tensor([0.0, 8.0, 16.0, 16.0])
    boxes = torch.stack([box1, box2]).expand(b, 2, 2, 4)
    loss = LocalDiscriminationLoss(grid=(4, 4))
    matched, by_index = loss(z, None, k, lam, boxes)["pd"], loss(z, None, k, lam)["pd"]
    assert float(matched) < float(by_index) - 1.0


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
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)  # float32: terms summed in another order


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


@pytest.mark.parametrize("with_boxes", [False, True])
def test_repeated_image_negatives_only_matter_for_copies_of_one_photograph(with_boxes):
    z, a, k, lam = inputs()
    boxes = torch.tensor([0.0, 0.0, 16.0, 16.0]).expand(2, 2, 2, 4) if with_boxes else None
    paper = LocalDiscriminationLoss(grid=(4, 4))
    dropping = LocalDiscriminationLoss(grid=(4, 4), repeated_image_negatives=False)
    distinct = torch.tensor([[0, 1], [2, 3]])
    torch.testing.assert_close(dropping(z, a, k, lam, boxes, distinct)["pd"], paper(z, a, k, lam, boxes)["pd"])
    one_photo = torch.zeros(2, 2, dtype=torch.long)  # the one-image demo: every image is the same photograph
    assert float(dropping(z, a, k, lam, boxes, one_photo)["pd"]) != pytest.approx(float(paper(z, a, k, lam)["pd"]))
    with pytest.raises(ValueError, match="source_index"):
        dropping(z, a, k, lam, boxes)


def test_border_margin_is_the_loss_of_the_inner_part_and_leaves_the_border_without_gradient():
    z, a, k, lam = inputs(size=24)  # a margin of 0.25 cuts 6 px of every side: the inner 12 x 12 px
    boxes = torch.tensor([[[[0.0, 0.0, 48.0, 48.0], [8.0, 16.0, 48.0, 48.0]]] * 2] * 2)  # (B, 2, 2, 4), 2 px/pixel
    inner_boxes = torch.tensor([[[[12.0, 12.0, 24.0, 24.0], [20.0, 28.0, 24.0, 24.0]]] * 2] * 2)
    with_margin = LocalDiscriminationLoss(grid=(4, 4), border_margin=0.25)(z, a, k, lam, boxes)
    inner = LocalDiscriminationLoss(grid=(4, 4))(z[..., 6:18, 6:18], a[..., 6:18, 6:18], k, lam, inner_boxes)
    for name in inner:
        torch.testing.assert_close(with_margin[name], inner[name])
    grad_z, grad_a = torch.autograd.grad(with_margin["loss"], [z, a])
    for grad in (grad_z, grad_a):
        border = grad.clone()
        border[..., 6:18, 6:18] = 0
        assert float(border.abs().max()) == 0.0 and float(grad[..., 6:18, 6:18].abs().max()) > 0.0


def test_border_margin_keeps_turned_views_aligned():
    """The inner part of a turned square map is the turned inner part: exact second views still realign."""
    z, _, k, lam = inputs(b=1, size=20)
    z = z.detach().clone()
    k = torch.tensor([[1, 6]])  # a quarter turn; a mirror and a half turn
    for i in range(2):
        z[2 + i] = LocalDiscriminationViewsd._turn(z[i], int(k[0, i]))
    loss = LocalDiscriminationLoss(grid=(4, 4), border_margin=0.2)
    assert float(loss(z, None, k, lam)["pd"]) < float(loss(z, None, torch.zeros_like(k), lam)["pd"])


@pytest.mark.parametrize("margin", [-0.1, 0.5])
def test_border_margin_out_of_range(margin):
    with pytest.raises(ValueError, match="border_margin"):
        LocalDiscriminationLoss(border_margin=margin)


def test_border_margin_that_leaves_less_than_the_grid_is_refused():
    z, a, k, lam = inputs(size=16)
    with pytest.raises(ValueError, match="fewer pixels"):
        LocalDiscriminationLoss(grid=(8, 8), border_margin=0.4)(z, a, k, lam)
