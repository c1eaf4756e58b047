# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from torch import nn

from ld_monai.networks import ShapeDiscriminator


def test_one_logit_per_image_and_the_research_size():
    discriminator = ShapeDiscriminator()
    assert discriminator(torch.rand(2, 1, 448, 448)).shape == (2, 1)
    assert discriminator(torch.rand(1, 1, 160, 160)).shape == (1, 1)
    assert sum(p.numel() for p in discriminator.parameters()) == 52129  # the research network's ~52 k


@pytest.mark.parametrize("slope", [0.2, 0.01])
def test_activations_are_real_leaky_relus(slope):
    """The research code's nn.LeakyReLU(True) has slope 1 (the identity); these have the slope asked for."""
    activations = [m for m in ShapeDiscriminator(negative_slope=slope).modules() if isinstance(m, nn.LeakyReLU)]
    assert len(activations) == 8
    assert all(m.negative_slope == slope for m in activations)
    x = torch.tensor([-1.0, 2.0])
    torch.testing.assert_close(activations[0](x), torch.tensor([-slope, 2.0]))
