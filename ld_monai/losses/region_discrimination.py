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


LOG_EPS = 1e-30
"""Added inside the logarithm, as the research code does: the entropy's gradient stays finite (about -69 / ln 2
instead of NaN) where an assignment value is exactly 0 or 1, which float32 reaches once a cluster saturates."""


def binary_entropy_bits(a: torch.Tensor) -> torch.Tensor:
    """Element-wise ``-a log2(a + eps) - (1 - a) log2(1 - a + eps)`` of values in [0, 1], ``eps`` = ``LOG_EPS``;
    in [0, 1], 0 at 0 and 1, with a finite gradient everywhere."""
    b = 1 - a
    return -(a * torch.log(a + LOG_EPS) + b * torch.log(b + LOG_EPS)) / math.log(2.0)


class AssignmentEntropyLoss(_Loss):
    """Mean binary entropy in bits of every soft assignment value, ``-a log2 a - (1 - a) log2(1 - a)``.

    Together with the sum-to-one constraint over clusters it pushes every pixel toward a one-hot assignment.
    Input (N, M, H, W) in [0, 1]; output in [0, 1]. Like the research code it adds 1e-30 inside the logarithm
    (:func:`binary_entropy_bits`): ``xlogy`` would give the same values but a NaN gradient at exactly 0 or 1.
    """

    def forward(self, assignment: torch.Tensor) -> torch.Tensor:
        return binary_entropy_bits(assignment).mean()
