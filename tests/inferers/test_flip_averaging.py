# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Test-time flips: exact values on a network that is not flip-equivariant, and equivariance of the result."""

from __future__ import annotations

import torch
from torch import nn

from ld_monai.inferers import FlipAveragingInferer


def test_averages_the_four_flips_of_a_position_dependent_network():
    x = torch.rand(2, 1, 5, 7)
    ramp = torch.arange(7.0).view(1, 1, 1, 7)  # output = input + column index: not flip-equivariant

    def network(t):
        return t + ramp

    out = FlipAveragingInferer()(x, network)
    # the column index, flipped back, is 6 - j half of the time: the average is the constant 3
    torch.testing.assert_close(out, x + 3.0)
    torch.testing.assert_close(FlipAveragingInferer(spatial_axes=())(x, network), network(x))  # no flip: one pass


def test_result_is_flip_equivariant_and_unchanged_for_an_equivariant_network():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 2, 3, padding=1).eval()
    x = torch.randn(1, 3, 16, 12)
    inferer = FlipAveragingInferer()
    with torch.no_grad():
        out = inferer(x, conv)
        for dims in ([2], [3], [2, 3]):
            torch.testing.assert_close(inferer(x.flip(dims), conv), out.flip(dims), atol=1e-5, rtol=1e-5)
        symmetric = nn.Conv2d(3, 2, 3, padding=1).eval()
        kernel = symmetric.weight.data
        symmetric.weight.data = (kernel + kernel.flip(2) + kernel.flip(3) + kernel.flip(2, 3)) / 4
        torch.testing.assert_close(inferer(x, symmetric), symmetric(x), atol=1e-5, rtol=1e-5)


def test_counts_network_passes():
    calls = []

    def network(t):
        calls.append(t.shape)
        return t

    FlipAveragingInferer()(torch.zeros(1, 1, 4, 4), network)
    FlipAveragingInferer(spatial_axes=(1,))(torch.zeros(1, 1, 4, 4), network)
    assert len(calls) == 4 + 2
