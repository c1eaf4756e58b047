# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""k-means on embedding vectors: the clustering of the correspondence and co-segmentation tools (after the research
code's faiss k-means, dino-vit-features ``cosegmentation.py``; method spec B6), by scikit-learn's ``KMeans``, with
the elbow rule that picks the number of parts."""

from __future__ import annotations

import torch

__all__ = ["kmeans", "elbow_kmeans"]


def kmeans(x: torch.Tensor, k: int, iterations: int = 100, restarts: int = 3,
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """k-means of the rows of ``x`` (N, D) (scikit-learn's ``KMeans``: k-means++ seeding, the best of ``restarts``
    runs, seeded by ``seed``). Returns the centroids (k, D), the label of every row (N,) and the mean squared
    distance of the rows to their centroids (the inertia per row)."""
    from sklearn.cluster import KMeans

    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and the number of vectors ({x.shape[0]}), got {k}.")
    fitted = KMeans(n_clusters=k, n_init=restarts, max_iter=iterations, random_state=seed).fit(
        x.detach().float().cpu().numpy())
    return (torch.as_tensor(fitted.cluster_centers_, dtype=torch.float32), torch.as_tensor(fitted.labels_).long(),
            float(fitted.inertia_) / x.shape[0])


def elbow_kmeans(x: torch.Tensor, max_k: int = 14, ratio: float = 0.975,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """k-means for k = 1, 2, ... ``max_k``, stopping at the elbow: the first k whose inertia is more than ``ratio``
    times that of k - 1 (adding a part explains little more); k - 1 is kept. The threshold 0.975 is the research
    code's; keeping k - 1 is our reading of an elbow. Returns what :func:`kmeans` returns for the chosen k."""
    previous = kmeans(x, 1, seed=seed)
    for k in range(2, min(max_k, x.shape[0]) + 1):
        current = kmeans(x, k, seed=seed)
        if current[2] > ratio * previous[2]:
            return previous
        previous = current
    return previous
