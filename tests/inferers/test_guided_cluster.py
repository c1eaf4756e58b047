# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import math

import pytest
import torch

from ld_monai.inferers import GuidedClusterSegmenter, guided_cluster_probability, pseudo_label_and_certainty
from ld_monai.networks import LocalDiscriminationNet


def two_halves():
    """Embedding e0 on the left half, e1 on the right; cluster 0 holds the left half at 0.9."""
    embedding = torch.zeros(1, 2, 4, 6)
    embedding[:, 0, :, :3], embedding[:, 1, :, 3:] = 1.0, 1.0
    assignment = torch.empty(1, 2, 4, 6)
    assignment[:, 0, :, :3], assignment[:, 0, :, 3:] = 0.9, 0.1
    assignment[:, 1] = 1 - assignment[:, 0]
    return embedding, assignment


def test_threshold_rule_is_the_assignment_inside_the_field_of_view():
    embedding, assignment = two_halves()
    fov = torch.ones(1, 1, 4, 6)
    fov[..., 0, :] = 0
    probability = guided_cluster_probability(embedding, assignment, cluster=0, field_of_view=fov)
    torch.testing.assert_close(probability, assignment[:, :1] * fov)


def test_argmax_rule_is_the_partition():
    embedding, assignment = two_halves()
    three = torch.cat([assignment * 0.8, torch.full((1, 1, 4, 6), 0.2)], dim=1)  # cluster 0 at 0.72 / 0.08 / 0.2
    torch.testing.assert_close(guided_cluster_probability(embedding, three, cluster=0, rule="argmax"),
                               (assignment[:, :1] > 0.5).float())
    torch.testing.assert_close(guided_cluster_probability(embedding, three, cluster=2, rule="argmax"),
                               torch.zeros(1, 1, 4, 6))


def test_recluster_rule_known_values():
    """Region features r_0 = (0.9, 0.1) / sqrt(0.82) and r_1 = (0.1, 0.9) / sqrt(0.82), so on the left (z = e0)
    q_0 = sigmoid((0.9 - 0.1) / sqrt(0.82) / 0.2), on the right its complement."""
    embedding, assignment = two_halves()
    q0 = guided_cluster_probability(embedding, assignment, cluster=0, rule="recluster")
    margin = 0.8 / math.sqrt(0.82) / 0.2
    expected = torch.full((1, 1, 4, 6), 1 / (1 + math.exp(margin)))
    expected[..., :3] = 1 / (1 + math.exp(-margin))
    torch.testing.assert_close(q0, expected)
    with pytest.raises(ValueError, match="rule"):
        guided_cluster_probability(embedding, assignment, rule="vote")


def test_segmenter_flip_average_is_flip_equivariant():
    torch.manual_seed(0)
    network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4).eval()
    segmenter = GuidedClusterSegmenter(network, cluster=2, flip_average=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out, mirrored = segmenter(x), segmenter(x.flip(-1))
    assert out.shape == (1, 1, 64, 64) and 0 <= out.min() and out.max() <= 1
    torch.testing.assert_close(mirrored, out.flip(-1))
    as_logits = GuidedClusterSegmenter(network, cluster=2, flip_average=True, logits=True)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(as_logits(x)), out.clamp(1e-6, 1 - 1e-6))
    with pytest.raises(ValueError, match="clustering head"):
        GuidedClusterSegmenter(LocalDiscriminationNet(embedding_dim=8, num_clusters=0))(x)


def test_complement_is_the_rest_of_the_image():
    torch.manual_seed(0)
    network = LocalDiscriminationNet(embedding_dim=8, num_clusters=4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        plain = GuidedClusterSegmenter(network, cluster=1, flip_average=True)(x)
        torch.testing.assert_close(GuidedClusterSegmenter(network, 1, flip_average=True, complement=True)(x), 1 - plain)


def test_pseudo_label_and_certainty_known_values():
    p = torch.tensor([0.0, 0.5, 0.9, 1.0]).view(1, 1, 1, 4)
    target = pseudo_label_and_certainty(p)
    torch.testing.assert_close(target[0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 1.0]))
    entropy = -(0.9 * math.log2(0.9) + 0.1 * math.log2(0.1))
    torch.testing.assert_close(target[0, 1, 0], torch.tensor([1.0, 0.0, 1 - entropy, 1.0]))
