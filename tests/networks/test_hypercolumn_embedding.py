# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""HypercolumnEmbedding: nearly unit vectors whose dot product is the mean of its parts'; the parts are the
encoder's normalised, upsampled features and the LD embedding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ld_monai.networks import HypercolumnEmbedding, LocalDiscriminationNet


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return LocalDiscriminationNet(in_channels=1, num_clusters=0).eval()


def test_dot_product_is_the_mean_of_the_parts(network):
    x = torch.rand(1, 1, 64, 48)
    with torch.no_grad():
        descriptor = HypercolumnEmbedding(network, levels=(2, 4), include_embedding=True)(x)
        features = network.encoder(x)
        embedding = network(x)["embedding"]
    assert descriptor.shape == (1, 64 + 128 + 32, 64, 48)
    norm = descriptor.norm(dim=1)
    assert norm.max() <= 1 + 1e-5 and norm.median() > 0.9  # unit parts, upsampled: nearly unit
    parts = [F.interpolate(F.normalize(features[level], dim=1), size=(64, 48), mode="bilinear") for level in (2, 4)]
    parts.append(embedding)
    a, b = (5, 7), (40, 30)
    cosine = (descriptor[0, :, a[0], a[1]] * descriptor[0, :, b[0], b[1]]).sum()
    expected = sum((p[0, :, a[0], a[1]] * p[0, :, b[0], b[1]]).sum() for p in parts) / 3
    torch.testing.assert_close(cosine, expected)
    torch.testing.assert_close(descriptor[:, -32:] * 3**0.5, embedding)


def test_bad_levels(network):
    with pytest.raises(ValueError, match="levels must be in"):
        HypercolumnEmbedding(network, levels=(5,))
    with pytest.raises(ValueError, match="at least one"):
        HypercolumnEmbedding(network, levels=(), include_embedding=False)
