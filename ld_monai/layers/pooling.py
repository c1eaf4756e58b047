# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Patch and region features of local discrimination (Chen et al., arXiv 2108.09440, Sec. 3).

Both pool the per-pixel unit embedding ``z`` (B, D, H, W) of :class:`LocalDiscriminationNet`:

* patch features: the average embedding of each cell of a ``gh x gw`` grid, renormalised to unit length;
* region features: the assignment-weighted average embedding of each of the M clusters,
  ``r_{n,m} = l2norm(1/HW * sum_x a_{n,m}(x) z_n(x))``, renormalised to unit length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["l2_normalize", "grid_patch_features", "region_features"]


def l2_normalize(x: torch.Tensor, dim: int = 1, eps: float = 1e-10) -> torch.Tensor:
    """``x / (||x||_2 + eps)`` along ``dim``, as the research code's ``l2_normal`` (note: eps added to the norm)."""
    return x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + eps)


def grid_patch_features(embedding: torch.Tensor, grid: tuple[int, int] = (8, 8)) -> torch.Tensor:
    """Unit patch features on a ``grid`` of cells: (B, D, H, W) -> (B, D, gh, gw).

    With H, W divisible by the grid (448 / 8 = 56 px cells in the paper) a view rotated by k*90 degrees
    has exactly the rotated grid of features, which is what the patch-discrimination positives rely on.
    """
    if embedding.ndim != 4:
        raise ValueError(f"embedding must be (B, D, H, W), got {tuple(embedding.shape)}.")
    return l2_normalize(F.adaptive_avg_pool2d(embedding, grid), dim=1)


def region_features(embedding: torch.Tensor, assignment: torch.Tensor) -> torch.Tensor:
    """Unit region features (B, M, D) from an embedding (B, D, H, W) and soft assignments (B, M, H, W).

    Computed as one batched matrix product over the flattened pixels (no per-sample loop).
    """
    if embedding.ndim != 4 or assignment.ndim != 4 or embedding.shape[0] != assignment.shape[0]:
        raise ValueError(
            f"embedding (B, D, H, W) and assignment (B, M, H, W) expected, got {tuple(embedding.shape)} "
            f"and {tuple(assignment.shape)}."
        )
    if embedding.shape[2:] != assignment.shape[2:]:
        raise ValueError(f"spatial sizes differ: {tuple(embedding.shape[2:])} vs {tuple(assignment.shape[2:])}.")
    hw = embedding.shape[2] * embedding.shape[3]
    pooled = torch.bmm(assignment.flatten(2), embedding.flatten(2).transpose(1, 2)) / hw
    return l2_normalize(pooled, dim=2)
