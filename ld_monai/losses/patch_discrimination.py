# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Patch discrimination and hypersphere mixup losses of local discrimination.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440, Sec. 3 (LDLearning
``BatchCriterion`` and ``compute_patch_loss``); the instance loss is the invariant-and-spreading criterion of
Ye et al., "Unsupervised Embedding Learning via Invariant and Spreading Instance Feature", CVPR 2019.
"""

from __future__ import annotations

import torch
from torch.nn.modules.loss import _Loss

from ld_monai.layers.pooling import l2_normalize

__all__ = ["invariant_spreading_loss", "PatchDiscriminationLoss", "HypersphereMixupLoss", "flatten_patches"]


def invariant_spreading_loss(
    queries: torch.Tensor,
    positives: torch.Tensor,
    temperature: float = 0.1,
    sources: torch.Tensor | None = None,
    images: torch.Tensor | None = None,
) -> torch.Tensor:
    """Invariant-and-spreading instance loss of ``X = [queries; positives]`` (2K, D), unit rows.

    Row ``i`` and row ``(i + K) mod 2K`` are a positive pair; every other row is a negative. With
    ``s_ik = exp(x_i . x_k / T)``, ``Z_i = sum_{k != i} s_ik``, ``P_i = s_{i,p(i)} / Z_i`` and ``Q_ik = s_ik / Z_i``:

        L = -1/(2K) sum_i [ log P_i + sum_{k not in {i, p(i)}} log(1 - Q_ik) ]

    The key side is detached (as in the research code): each row is pulled/pushed as a query against constant
    keys. Computed in log space (``logsumexp``, ``log1p``) with no Python loop; equal to the research code's
    dense ``exp``/``log`` computation (see ``ld_monai.losses.reference``).

    Args:
        queries: (K, D) unit vectors.
        positives: (K, D) unit vectors; row k is the positive of ``queries[k]``.
        temperature: T, 0.1 in the paper.
        sources: optional (K,) integer ids of the photograph each row comes from. With ``images``, rows of
            *different images of the same photograph* are not negatives of each other (dropped from ``Z_i`` and
            from the sum): the same content at two places is not a different patch, and only position could tell
            the copies apart. Rows of one image stay negatives, as in the paper.
        images: optional (K,) integer ids of the image (a drawn copy of the photograph) each row comes from.
    """
    if queries.ndim != 2 or queries.shape != positives.shape:
        raise ValueError(
            f"queries and positives must both be (K, D), got {tuple(queries.shape)}, {tuple(positives.shape)}."
        )
    if queries.shape[0] < 2:
        raise ValueError("need at least two pairs: a single pair has no negatives.")
    x = torch.cat([queries, positives], dim=0)
    n = x.shape[0]
    logits = (x @ x.detach().T) / temperature
    dropped = torch.eye(n, dtype=torch.bool, device=x.device)
    if (sources is None) != (images is None):
        raise ValueError("give both `sources` and `images` (or neither).")
    if sources is not None:
        if sources.shape != (n // 2,) or images.shape != (n // 2,):
            raise ValueError(
                f"sources and images must be ({n // 2},), got {tuple(sources.shape)}, {tuple(images.shape)}."
            )
        src, img = sources.repeat(2).to(x.device), images.repeat(2).to(x.device)
        dropped = dropped | ((src[:, None] == src[None]) & (img[:, None] != img[None]))
    logits = logits.masked_fill(dropped, float("-inf"))
    log_z = torch.logsumexp(logits, dim=1, keepdim=True)
    log_q = logits - log_z  # log Q_ik, -inf on the diagonal
    pos_index = torch.arange(n, device=x.device).roll(-(n // 2)).unsqueeze(1)
    log_p = log_q.gather(1, pos_index).squeeze(1)
    # sum over k != i of log(1 - Q_ik) (the diagonal contributes log1p(-0) = 0), minus the positive's term
    log_not = torch.log1p(-log_q.exp())
    neg = log_not.sum(dim=1) - log_not.gather(1, pos_index).squeeze(1)
    return -(log_p + neg).mean()


def flatten_patches(patches: torch.Tensor) -> torch.Tensor:
    """(B, D, gh, gw) patch feature maps -> (B * gh * gw, D) rows, image-major then row-major cells; (K, D) passes."""
    if patches.ndim == 2:
        return patches
    if patches.ndim != 4:
        raise ValueError(f"patch features must be (B, D, gh, gw) or (K, D), got {tuple(patches.shape)}.")
    return patches.permute(0, 2, 3, 1).reshape(-1, patches.shape[1])


class PatchDiscriminationLoss(_Loss):
    """Patch discrimination (PD): the same grid cell of two views of an image is a positive pair, every other
    patch of the batch (other cells of the same image included) is a negative.

    Args:
        temperature: 0.1 in the paper.

    Inputs: ``view1`` and ``view2`` unit patch features (B, D, gh, gw) (or flattened (K, D)), with ``view2``
    already realigned to ``view1`` (rotations undone); optionally ``sources`` and ``images``, (K,) ids per patch
    row (see :func:`invariant_spreading_loss`). Output: scalar.

    Example::

        >>> loss = PatchDiscriminationLoss()
        >>> f = torch.nn.functional.normalize(torch.randn(2, 32, 8, 8), dim=1)
        >>> loss(f, f) < loss(f, torch.nn.functional.normalize(torch.randn(2, 32, 8, 8), dim=1))
        tensor(True)
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(
        self,
        view1: torch.Tensor,
        view2: torch.Tensor,
        sources: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return invariant_spreading_loss(
            flatten_patches(view1), flatten_patches(view2), self.temperature, sources, images
        )


class HypersphereMixupLoss(_Loss):
    """Hypersphere mixup: each patch of the mixed image ``lam * I_a + (1 - lam) * I_b`` is pulled toward the
    detached target ``l2norm(lam * f_a + (1 - lam) * f_b)`` of the same cell and pushed from all others.

    Inputs: ``mixed``, ``source_a``, ``source_b`` unit patch features (B, D, gh, gw); ``lam`` (B,) mixing weights
    (U(0.2, 0.8) in the paper). Output: scalar.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(
        self, mixed: torch.Tensor, source_a: torch.Tensor, source_b: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        if not (mixed.shape == source_a.shape == source_b.shape) or mixed.ndim != 4:
            raise ValueError(
                f"mixed and sources must be equal (B, D, gh, gw), got {tuple(mixed.shape)}, {tuple(source_a.shape)}, "
                f"{tuple(source_b.shape)}."
            )
        lam = torch.as_tensor(lam, dtype=mixed.dtype, device=mixed.device).reshape(-1, 1, 1, 1)
        if lam.shape[0] != mixed.shape[0]:
            raise ValueError(f"need one lambda per image: {lam.shape[0]} for a batch of {mixed.shape[0]}.")
        target = l2_normalize(lam * source_a + (1 - lam) * source_b, dim=1).detach()
        return invariant_spreading_loss(flatten_patches(mixed), flatten_patches(target), self.temperature)
