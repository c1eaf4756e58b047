# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import math

import torch

from ld_monai.inferers.patch_correspondence import (
    mutual_nearest_neighbours,
    propagate_points,
    sample_cells,
    spread_pairs,
)


def unique_cells(height: int = 6, width: int = 6, dim: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.nn.functional.normalize(torch.randn(dim, height, width), dim=0)


def smooth_map(height: int = 10, width: int = 12, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """A unit embedding that turns smoothly with position: nearby cells are similar, far ones are not."""
    y, x = torch.meshgrid(torch.arange(height) - shift[1], torch.arange(width) - shift[0], indexing="ij")
    angle = 2 * math.pi / 12
    turns = [torch.cos(angle * x), torch.sin(angle * x), torch.cos(angle * y), torch.sin(angle * y)]
    return torch.stack(turns) / 2 ** 0.5


def test_best_buddies_of_a_shifted_map_are_the_shifted_cells():
    first = unique_cells()
    second = torch.roll(first, shifts=(2, 1), dims=(1, 2))  # cell (x, y) of the first is (x + 1, y + 2) here
    pairs, scores = mutual_nearest_neighbours(first, second)
    assert len(pairs) == 36 and torch.allclose(scores, torch.ones(36))
    assert torch.equal(pairs[:, 2], (pairs[:, 0] + 1) % 6) and torch.equal(pairs[:, 3], (pairs[:, 1] + 2) % 6)
    foreground = torch.zeros(6, 6, dtype=torch.bool)
    foreground[:3] = True  # the top half of the first image
    kept, _ = mutual_nearest_neighbours(first, second, first_foreground=foreground)
    assert len(kept) == 18 and bool((kept[:, 1] < 3).all())
    only = torch.zeros(6, 6, dtype=torch.bool)
    only[0, 0] = True  # the second's top-left cell holds the first's cell (5, 4)
    kept, _ = mutual_nearest_neighbours(first, second, second_foreground=only)
    assert kept.tolist() == [[5, 4, 0, 0]]


def test_spread_pairs_keeps_one_pair_per_group():
    first = unique_cells()
    pairs, scores = mutual_nearest_neighbours(first, torch.roll(first, 1, dims=2))
    chosen = spread_pairs(first, torch.roll(first, 1, dims=2), pairs, scores, count=5)
    assert len(chosen) == 5 == len(set(chosen.tolist()))
    assert torch.equal(spread_pairs(first, first, pairs[:3], scores[:3], count=5), torch.arange(3))


def test_points_propagate_to_their_shifted_position_to_a_sub_cell():
    template, target = smooth_map(), smooth_map(shift=(1.5, -2.25))  # the target is the template moved
    points = torch.tensor([[2.3, 3.6], [5.0, 5.0], [8.7, 6.1]])
    expected = points + torch.tensor([1.5, -2.25])
    coarse, _ = propagate_points(template, points, target, refine=False)
    refined, similarity = propagate_points(template, points, target)
    assert torch.equal(coarse, expected.round())
    assert (refined - expected).abs().max() < 0.2  # the nearest cell alone is off by up to half a cell
    assert (refined - expected).abs().sum() < 0.5 * (coarse - expected).abs().sum()
    assert bool((similarity > 0.9).all())


def test_sample_cells_at_centres_between_them_and_beyond():
    embedding = torch.zeros(2, 1, 3)
    embedding[0, 0, 0], embedding[1, 0, 1], embedding[0, 0, 2] = 1.0, 1.0, 1.0  # e0, e1, e0 along x
    sampled = sample_cells(embedding, torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [-3.0, 0.0]]))
    half = 2 ** -0.5
    torch.testing.assert_close(sampled, torch.tensor([[1.0, 0.0], [0.0, 1.0], [half, half], [1.0, 0.0]]))
