# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from ld_monai.layers.kmeans import elbow_kmeans, kmeans


def blobs(centres: list[list[float]], per_blob: int = 50, spread: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    truth = torch.arange(len(centres)).repeat_interleave(per_blob)
    return torch.tensor(centres)[truth] + spread * torch.randn(len(truth), len(centres[0])), truth


def same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    return all(len(set(a[b == label].tolist())) == 1 for label in b.unique()) and len(a.unique()) == len(b.unique())


def test_kmeans_recovers_separated_blobs_and_their_inertia():
    x, truth = blobs([[0, 0], [3, 0], [0, 3]])
    centroids, labels, inertia = kmeans(x, 3)
    assert same_partition(labels, truth)
    for label in range(3):
        torch.testing.assert_close(centroids[label], x[labels == label].mean(0))
    assert inertia == pytest.approx(float(((x - centroids[labels]) ** 2).sum(1).mean()))
    assert kmeans(x, 1)[2] > 10 * inertia


def test_elbow_picks_the_number_of_blobs_of_embedding_vectors():
    """Blobs in 64 dimensions (as embeddings are): splitting a blob explains about 1/64 of its spread, less than the
    2.5 % the rule asks for, while splitting two blobs apart explains most of it."""
    torch.manual_seed(1)
    for count in (1, 2, 3, 5):
        x, truth = blobs(torch.randn(count, 64).tolist(), per_blob=400)
        _, labels, _ = elbow_kmeans(x)
        assert same_partition(labels, truth)


def test_clear_errors():
    with pytest.raises(ValueError, match="between 1 and the number"):
        kmeans(torch.rand(3, 2), 4)
