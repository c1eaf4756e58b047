# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Region discrimination and assignment entropy of local discrimination.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440, Sec. 3
(LDLearning ``compute_clustering_loss`` and the entropy term of ``my_models.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

from ld_monai.layers.pooling import l2_normalize

__all__ = ["RegionDiscriminationLoss", "AssignmentEntropyLoss", "binary_entropy_bits"]


class RegionDiscriminationLoss(_Loss):
    """Each image's region feature of cluster m must be nearest (softmax over clusters) to the centre of cluster m.

    With region features ``r`` (N, M, D) (unit, see :func:`ld_monai.layers.region_features`) the centres are the
    re-normalised batch means ``c_m = l2norm(1/N sum_n r_{n,m})`` (not detached) and

        L = -1/(N M) sum_{n,m} log softmax_{m'}(r_{n,m} . c_{m'} / T)[m]

    The batch (N images) is an explicit input so that a distributed version can gather it across processes.

    Args:
        temperature: T, 0.2 in the paper.
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, regions: torch.Tensor) -> torch.Tensor:
        if regions.ndim != 3 or regions.shape[1] < 2:
            raise ValueError(f"region features must be (N, M >= 2, D), got {tuple(regions.shape)}.")
        n, m, _ = regions.shape
        centres = l2_normalize(regions.mean(dim=0), dim=1)  # (M, D)
        logits = regions @ centres.T / self.temperature  # (N, M, M)
        target = torch.arange(m, device=regions.device).repeat(n)
        return F.cross_entropy(logits.reshape(n * m, m), target)


def binary_entropy_bits(a: torch.Tensor) -> torch.Tensor:
    """Element-wise ``-a log2 a - (1 - a) log2(1 - a)`` of values in [0, 1] (``xlogy``: 0 log 0 = 0); in [0, 1]."""
    return -(torch.special.xlogy(a, a) + torch.special.xlogy(1 - a, 1 - a)) / math.log(2.0)


class AssignmentEntropyLoss(_Loss):
    """Mean binary entropy in bits of every soft assignment value, ``-a log2 a - (1 - a) log2(1 - a)``.

    Together with the sum-to-one constraint over clusters it pushes every pixel toward a one-hot assignment.
    Input (N, M, H, W) in [0, 1]; output in [0, 1]. Uses ``xlogy`` (0 log 0 = 0) where the research code adds
    1e-30 inside the logarithm; both agree to float precision.
    """

    def forward(self, assignment: torch.Tensor) -> torch.Tensor:
        return binary_entropy_bits(assignment).mean()
