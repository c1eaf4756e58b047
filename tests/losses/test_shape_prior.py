# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import math

import pytest
import torch
import torch.nn.functional as F

from ld_monai.losses import (
    ShapePriorAdversarialLoss,
    ShapePriorKLLoss,
    ShapePriorWassersteinLoss,
    patch_fraction_histograms,
    patch_fractions,
)

SIDE = 128


def grid_lines(n: int, side: int = SIDE, shift: int = 0) -> torch.Tensor:
    """Thin vessel-like lines, two pixels wide per 128 px, a different phase per image."""
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    scale = side // SIDE
    masks = [(((xx + 3 * i + shift) // scale % 16) < 2) | (((yy + 5 * i) // scale % 24) < 2) for i in range(n)]
    return torch.stack(masks).unsqueeze(1).float()


def discs(n: int, radius: float = 30.0, side: int = SIDE) -> torch.Tensor:
    """One filled disc per image, moving right from image to image."""
    yy, xx = torch.meshgrid(torch.arange(side) / side * SIDE, torch.arange(side) / side * SIDE, indexing="ij")
    return torch.stack([((xx - 50 - 5 * i) ** 2 + (yy - 60) ** 2 < radius**2) for i in range(n)]).unsqueeze(1).float()


def test_adversarial_terms_known_values():
    loss = ShapePriorAdversarialLoss()
    undecided = torch.zeros(4, 1)
    assert loss(undecided).item() == pytest.approx(math.log(2.0))
    assert loss(undecided, undecided).item() == pytest.approx(math.log(2.0))
    # a discriminator that is sure and right: its own loss vanishes, the generator's is large
    sure_fake, sure_real = torch.full((4, 1), -20.0), torch.full((4, 1), 20.0)
    assert loss(sure_fake, sure_real).item() < 1e-8
    assert loss(sure_fake).item() == pytest.approx(20.0, abs=1e-6)


def test_adversarial_terms_equal_the_research_sigmoid_and_bce():
    torch.manual_seed(0)
    fake, real = torch.randn(6, 1), torch.randn(6, 1)
    research_d = F.binary_cross_entropy(torch.sigmoid(torch.cat([real, fake])), torch.cat([torch.ones(6, 1),
                                                                                          torch.zeros(6, 1)]))
    research_g = F.binary_cross_entropy(torch.sigmoid(fake), torch.ones(6, 1))
    loss = ShapePriorAdversarialLoss()
    torch.testing.assert_close(loss(fake, real), research_d)
    torch.testing.assert_close(loss(fake), research_g)


def test_histograms_are_distributions_with_known_full_and_empty_masks():
    hist = patch_fraction_histograms(grid_lines(3), grids=(1, 4, 16), bins=10)
    assert hist.shape == (3, 10)
    torch.testing.assert_close(hist.sum(dim=1), torch.ones(3))
    centres = (torch.arange(10) + 0.5) / 10
    for value, expected_bin in ((1.0, 9), (0.0, 0)):
        full = patch_fraction_histograms(torch.full((2, 1, 32, 32), value), grids=(1, 8), bins=10)
        expected = torch.softmax(-((value - centres) ** 2) * 50.0, dim=0)
        torch.testing.assert_close(full, expected.expand(2, 10))
        assert int(full[0].argmax()) == expected_bin


def test_kl_is_zero_for_the_prior_itself_and_lower_for_a_cluster_shaped_like_it():
    loss = ShapePriorKLLoss()
    vessels, blobs = grid_lines(4), discs(4)
    assert loss(vessels, vessels).item() == pytest.approx(0.0, abs=1e-6)
    # other images of the same kind of shape, against a shape of the other kind: both ways
    assert loss(grid_lines(4, shift=7), vessels) < 0.1 * loss(blobs, vessels)
    assert loss(discs(4, radius=28), blobs) < 0.1 * loss(grid_lines(4), blobs)
    # an undecided cluster (every pixel 0.5) is far from any binary prior
    assert loss(torch.full_like(vessels, 0.5), vessels) > loss(blobs, vessels)


def test_kl_does_not_depend_on_the_image_size():
    loss = ShapePriorKLLoss(grids=(1, 4, 16))
    assert loss(discs(4, side=SIDE), discs(4, side=2 * SIDE)).item() < 1e-3
    assert loss(grid_lines(4, side=SIDE), grid_lines(4, side=2 * SIDE)).item() < 1e-3


def descend(loss, logits: torch.Tensor, prior: torch.Tensor, steps: int = 100) -> tuple[float, float, torch.Tensor]:
    """``steps`` Adam steps of free cluster maps ``sigmoid(logits)`` on ``loss`` against ``prior``: the first and
    last loss values and the final maps."""
    logits = logits.clone().requires_grad_()
    optimiser = torch.optim.Adam([logits], lr=0.1)
    first = loss(torch.sigmoid(logits), prior).item()
    for _ in range(steps):
        optimiser.zero_grad()
        value = loss(torch.sigmoid(logits), prior)
        value.backward()
        optimiser.step()
        assert torch.isfinite(logits.grad).all()
    return first, value.item(), torch.sigmoid(logits.detach())


def test_kl_gradient_moves_a_cluster_towards_the_prior():
    torch.manual_seed(0)
    first, last, _ = descend(ShapePriorKLLoss(), torch.randn(4, 1, 64, 64), discs(4))
    assert last < 0.2 * first


def test_occupancy_term_tells_left_from_right():
    right = discs(4, radius=12)
    left = torch.roll(right, shifts=-32, dims=-1)  # the same discs, a whole coarse patch to the left
    shapes_only, with_position = ShapePriorKLLoss(), ShapePriorKLLoss(occupancy_weight=1.0)
    assert shapes_only(left, right).item() == pytest.approx(shapes_only(right, right).item(), abs=1e-6)
    assert with_position(left, right) > with_position(right, right) + 2.0


def test_wasserstein_known_values():
    loss = ShapePriorWassersteinLoss(grids=(1, 4))
    blobs = discs(4)
    assert loss(blobs, blobs).item() == pytest.approx(0.0, abs=1e-6)
    empty, full = torch.zeros_like(blobs), torch.ones_like(blobs)
    # an empty map moves every patch's fraction down to 0: the mean fraction of the prior's patches, at each grid
    assert loss(empty, blobs).item() == pytest.approx(blobs.mean().item(), rel=1e-5)
    assert loss(full, blobs).item() == pytest.approx(1 - blobs.mean().item(), rel=1e-5)
    assert patch_fractions(blobs, 4).shape == (4 * 16,)


def test_wasserstein_is_lower_for_a_cluster_shaped_like_the_prior():
    loss = ShapePriorWassersteinLoss()
    vessels, blobs = grid_lines(4), discs(4)
    assert loss(grid_lines(4, shift=7), vessels) < 0.2 * loss(blobs, vessels)
    assert loss(discs(4, radius=28), blobs) < 0.2 * loss(grid_lines(4), blobs)
    assert loss(discs(4, side=SIDE), discs(4, side=2 * SIDE)).item() < 5e-3  # whatever the image size


def test_wasserstein_turns_a_diffuse_cluster_into_the_priors_proportions():
    """A cluster near 0.05 everywhere (what the KL prior left on the Drishti disc) becomes a near-binary map with
    the prior's foreground share."""
    torch.manual_seed(0)
    prior = discs(4)
    diffuse = math.log(0.05 / 0.95) + 0.1 * torch.randn(4, 1, 64, 64)
    first, last, maps = descend(ShapePriorWassersteinLoss(), diffuse, prior)
    assert last < 0.25 * first
    assert ((maps > 0.1) & (maps < 0.9)).float().mean() < 0.05  # decided
    assert (maps > 0.5).float().mean().item() == pytest.approx(prior.mean().item(), abs=0.01)
