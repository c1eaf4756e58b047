# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Correspondences between images from their patch embeddings, for PEAC and LD embeddings alike (PEAC: Zhou et al.,
BMVC 2023, arXiv 2312.00335, ``visualizations/correspondences.py``, after dino-vit-features' best buddies, Amir et
al. 2021; method spec B6).

An embedding map is (D, h, w) unit vectors: one per cell of PEAC's token grid
(:class:`ld_monai.networks.PEACTokenMap`) or one per pixel of LD's embedding. Points are (x, y) in the map's cells;
the caller scales them to and from image pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ld_monai.layers.kmeans import kmeans

__all__ = ["mutual_nearest_neighbours", "spread_pairs", "sample_cells", "propagate_points"]


def _flat(embedding: torch.Tensor) -> torch.Tensor:
    if embedding.ndim != 3:
        raise ValueError(f"an embedding map is (D, h, w), got {tuple(embedding.shape)}.")
    return F.normalize(embedding.flatten(1).T.float(), dim=1)  # (h w, D)


def mutual_nearest_neighbours(first: torch.Tensor, second: torch.Tensor, first_foreground: torch.Tensor | None = None,
                              second_foreground: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Best buddies of two embedding maps (D, h1, w1) and (D, h2, w2): cells ``i`` of the first and ``j`` of the
    second whose nearest neighbours (cosine) are each other. With foreground masks (h, w) only pairs whose both cells
    are foreground are kept. Returns the pairs (K, 4) as (x1, y1, x2, y2) cells, and their cosine similarities (K,),
    most similar first."""
    a, b = _flat(first), _flat(second)
    similarity = a @ b.T
    forward, backward = similarity.argmax(1), similarity.argmax(0)
    cells = torch.arange(len(a))
    mutual = backward[forward] == cells
    if first_foreground is not None:
        mutual &= first_foreground.flatten().bool()
    if second_foreground is not None:
        mutual &= second_foreground.flatten().bool()[forward]
    i, j = cells[mutual], forward[mutual]
    width1, width2 = first.shape[2], second.shape[2]
    pairs = torch.stack([i % width1, i // width1, j % width2, j // width2], dim=1)
    scores = similarity[i, j]
    order = scores.argsort(descending=True)
    return pairs[order], scores[order]


def spread_pairs(first: torch.Tensor, second: torch.Tensor, pairs: torch.Tensor, scores: torch.Tensor, count: int,
                 seed: int = 0) -> torch.Tensor:
    """``count`` well-separated pairs out of ``pairs`` (K, 4) (:func:`mutual_nearest_neighbours`): k-means of the
    pairs' joined unit embeddings ``[e1; e2]`` into ``count`` groups, and the most similar pair of each group (the
    research code keeps the most salient; a similarity needs no saliency map). Returns indices into ``pairs``."""
    if len(pairs) <= count:
        return torch.arange(len(pairs))
    a = _flat(first)[pairs[:, 1] * first.shape[2] + pairs[:, 0]]
    b = _flat(second)[pairs[:, 3] * second.shape[2] + pairs[:, 2]]
    _, labels, _ = kmeans(F.normalize(torch.cat([a, b], dim=1), dim=1), count, seed=seed)
    chosen = [torch.nonzero(labels == group)[scores[labels == group].argmax()].item() for group in labels.unique()]
    return torch.tensor(sorted(chosen, key=lambda index: -float(scores[index])))


def sample_cells(embedding: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Unit embeddings (K, D) of a map (D, h, w) at points (K, 2) (x, y in cells, sub-cell values allowed): bilinear
    between cell centres, the border cells' value beyond them."""
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (K, 2) (x, y), got {tuple(points.shape)}.")
    height, width = embedding.shape[1:]
    grid = torch.stack([(points[:, 0] + 0.5) / width * 2 - 1, (points[:, 1] + 0.5) / height * 2 - 1], dim=-1)
    sampled = F.grid_sample(embedding[None].float(), grid.view(1, 1, -1, 2).float(), align_corners=False,
                            padding_mode="border")[0, :, 0].T
    return F.normalize(sampled, dim=1)


def propagate_points(template: torch.Tensor, points: torch.Tensor, target: torch.Tensor,
                     refine: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry points (K, 2) (x, y, in cells of ``template`` (D, h1, w1), sub-cell values allowed) to ``target``
    (D, h2, w2): each point's embedding (bilinear between cell centres, unit length) is matched to the most similar
    cell of the target (cosine). With ``refine`` the match moves to the similarity-weighted mean of its 3 x 3
    neighbourhood (weights ``max(s - s_min, 0)`` over it), a sub-cell position. Returns the points (K, 2) in cells
    of ``target`` and their similarity (K,)."""
    similarity = sample_cells(template, points) @ _flat(target).T  # (K, h2 w2)
    best, index = similarity.max(dim=1)
    height2, width2 = target.shape[1:]
    found = torch.stack([index % width2, index // width2], dim=1).float()
    if refine:
        maps = similarity.view(-1, 1, height2, width2)
        padded = F.pad(maps, (1, 1, 1, 1), value=float("-inf"))
        for k, (x, y) in enumerate(found.long().tolist()):
            window = padded[k, 0, y: y + 3, x: x + 3]
            weights = (window - window[torch.isfinite(window)].min()).clamp_min(0)  # outside the map: -inf -> 0
            if weights.sum() > 0:
                offsets = torch.tensor([-1.0, 0.0, 1.0])
                found[k, 0] += float((weights.sum(0) * offsets).sum() / weights.sum())
                found[k, 1] += float((weights.sum(1) * offsets).sum() / weights.sum())
    return found, best
