# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Template ranking by cycle consistency: the probe grid's known values; a shifted copy brings the probes back
exactly; a noise image ranks below real cephalograms; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ld_monai.inferers.template_ranking import cycle_errors, probe_grid, rank_templates


def test_probe_grid_known_values():
    grid = probe_grid(11, 21, per_side=3, margin=0.1)
    assert grid.shape == (9, 2)
    np.testing.assert_allclose(np.unique(grid[:, 0]), [2, 10, 18])
    np.testing.assert_allclose(np.unique(grid[:, 1]), [1, 5, 9])
    np.testing.assert_allclose(grid[1], [10, 1])  # row-major: x varies first
    with pytest.raises(ValueError, match="margin"):
        probe_grid(11, 21, margin=0.5)


def test_a_shifted_copy_is_cycle_consistent(cephalogram, inferer):
    image, _ = cephalogram
    probes = probe_grid(*image.shape[-2:], per_side=6, margin=0.15)
    shifted = torch.roll(image, shifts=(-5, 7), dims=(1, 2))
    errors = cycle_errors(inferer, image, [shifted, image], probes)
    assert errors.shape == (2, 36)
    assert np.median(errors) < 0.5 and (errors < 1.0).mean() > 0.9


def test_one_pass_per_image_changes_nothing(cephalogram, inferer):
    """The descriptors reused as template and query give exactly what the inferer's three passes per partner give."""
    image, _ = cephalogram
    partners = [torch.roll(image, shifts=(3, -4), dims=(1, 2)), (image * 0.9).clamp(0, 1)]
    probes = probe_grid(*image.shape[-2:], per_side=5, margin=0.15)
    template = inferer.make_template(image, probes)
    expected = []
    for partner in partners:
        found = np.clip(inferer(partner, template)["landmarks"], 0, [image.shape[-1] - 1, image.shape[-2] - 1])
        back = inferer(image, inferer.make_template(partner, found))["landmarks"]
        expected.append(np.linalg.norm(back - probes, axis=1))
    np.testing.assert_array_equal(cycle_errors(inferer, image, partners, probes), np.stack(expected))


def test_noise_ranks_last(cephalogram, inferer):
    image, _ = cephalogram
    noise = torch.rand(image.shape, generator=torch.Generator().manual_seed(0))
    images = {"noise": noise, "ceph": image, "shifted": torch.roll(image, shifts=(4, -6), dims=(1, 2)),
              "brighter": (image * 1.2).clamp(0, 1)}
    scores = rank_templates(inferer, images, num_partners=3, per_side=6, margin=0.15, progress=False)
    assert [s.rank for s in scores] == [1, 2, 3, 4] and scores[-1].name == "noise"
    assert [s.mean_px for s in scores] == sorted(s.mean_px for s in scores)
    assert scores[0].consistent_fraction > scores[-1].consistent_fraction
    with pytest.raises(ValueError, match="at least two"):
        rank_templates(inferer, {"ceph": image})
