# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""fit_landmark_direction: a direction that the template's vector misleads is corrected by pseudo-labelled
examples, and the correction holds on new examples; examples that agree with the template leave it in place."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ld_monai.inferers.landmark_direction import fit_landmark_direction

D, P = 8, 30


def windows(n: int, seed: int) -> torch.Tensor:
    """n windows of P unit descriptors around a common direction e0: at position 0 the landmark (e0 + 1.2 e1),
    at position 1 a look-alike closer to e0 (e0 + 0.5 e2), elsewhere e0 plus a random unit vector of the last 5
    dimensions; the landmark and the look-alike get a little noise there too. Cosine with e0: look-alike 0.89,
    elsewhere 0.71, landmark 0.64."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, P, D)
    x[..., 0] = 1.0
    x[..., 3:] = F.normalize(torch.randn(n, P, D - 3, generator=generator), dim=2)
    x[:, 0, 1], x[:, 1, 2] = 1.2, 0.5
    x[:, :2, 3:] = 0.05 * torch.randn(n, 2, D - 3, generator=generator)
    return F.normalize(x, dim=2)


def test_learns_what_tells_the_landmark_from_a_look_alike():
    start = F.one_hot(torch.tensor(0), D).float()  # the template's vector: e0, nearer the look-alike
    train, held_out = windows(20, seed=0), windows(50, seed=1)
    assert ((held_out @ start).argmax(1) == 1).all()
    direction = fit_landmark_direction(train, start, target=0)
    assert direction.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert ((train @ direction).argmax(1) == 0).all()
    assert ((held_out @ direction).argmax(1) == 0).all()


def test_examples_that_agree_with_the_template_keep_it():
    """When the template's vector already picks the labelled position by a wide margin, the fit keeps it nearly."""
    examples = windows(20, seed=2)
    start = F.normalize(examples[:, 0].mean(0), dim=0)
    direction = fit_landmark_direction(examples, start, target=0)
    assert float(direction @ start) > 0.95
    assert ((examples @ direction).argmax(1) == 0).all()


def test_bad_input():
    examples, start = windows(2, seed=0), torch.ones(D) / D**0.5
    with pytest.raises(ValueError, match=r"\(N, P, D\)"):
        fit_landmark_direction(examples[0], start, 0)
    with pytest.raises(ValueError, match="start must be"):
        fit_landmark_direction(examples, start[:3], 0)
    with pytest.raises(ValueError, match="target must index"):
        fit_landmark_direction(examples, start, P)
