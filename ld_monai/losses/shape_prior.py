# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Shape priors of LD's shape-guided segmentation: one cluster's assignment map is steered towards the shapes of
masks from another source (Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440,
shape-guided segmentation; IPMI 2021). Method spec A8.1 (adversarial, the research code) and A8.2 (a divergence
between shape distributions, described in the paper but not published as code: designed here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

__all__ = ["ShapePriorAdversarialLoss", "ShapePriorKLLoss", "ShapePriorWassersteinLoss", "patch_fractions",
           "patch_fraction_histograms"]


class ShapePriorAdversarialLoss(_Loss):
    """The adversarial shape prior of the research code (method spec A8.1), on discriminator logits.

    With ``D`` a :class:`ld_monai.networks.ShapeDiscriminator` (logits), ``a`` the guided cluster's assignment maps
    (the fakes) and ``p`` the augmented prior masks (the reals):

    * generator term, ``loss(D(a))``: ``BCE(sigmoid(D(a)), 1)``, added to the LD objective and stepped with the
      encoder and decoder;
    * discriminator term, ``loss(D(a.detach()), D(p))``: ``BCE(sigmoid([D(p); D(a)]), [1; 0])`` over the
      concatenated batch, stepped with the discriminator's own optimiser.

    The research code applies a sigmoid in ``D`` and ``nn.BCELoss``; ``BCEWithLogits`` on the logits is the same
    loss, computed stably.
    """

    def forward(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        if real_logits is None:
            return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        logits = torch.cat([real_logits, fake_logits])
        target = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
        return F.binary_cross_entropy_with_logits(logits, target)


def patch_fractions(masks: torch.Tensor, grid: int) -> torch.Tensor:
    """The foreground fraction of every patch of a g x g grid over each of the (soft) masks (N, 1, H, W) in [0, 1]
    (patches of 1/g of the image side, whatever its size): a flat vector of N g^2 values in [0, 1]."""
    if masks.ndim != 4 or masks.shape[1] != 1:
        raise ValueError(f"masks must be (N, 1, H, W), got {tuple(masks.shape)}.")
    return F.adaptive_avg_pool2d(masks, grid).flatten()


def patch_fraction_histograms(masks: torch.Tensor, grids: tuple[int, ...], bins: int) -> torch.Tensor:
    """The distribution of foreground fractions of a batch of (soft) masks, at several patch sizes.

    For each ``g`` in ``grids`` the masks (N, 1, H, W) in [0, 1] are average-pooled to a g x g grid (patches of
    1/g of the image side, whatever its size), and each patch's foreground fraction ``f`` is spread over ``bins``
    bins with centres ``c_k = (k + 1/2) / bins`` by ``softmax_k(-(f - c_k)^2 / (2 s^2))``, ``s = 1 / bins``: a
    soft, differentiable histogram. Returns (len(grids), bins), each row summing to 1 (the mean over the batch's
    patches).
    """
    centres = (torch.arange(bins, device=masks.device, dtype=masks.dtype) + 0.5) / bins
    rows = []
    for grid in grids:
        fractions = patch_fractions(masks, grid).unsqueeze(1)
        rows.append(torch.softmax(-((fractions - centres) ** 2) * (bins**2 / 2.0), dim=1).mean(dim=0))
    return torch.stack(rows)


class ShapePriorKLLoss(_Loss):
    """A divergence between the shape distribution of the prior masks and of the guided cluster (method spec A8.2).

    The paper minimises "a KL divergence between shape distributions" of the pseudo-segmentation and the reference
    masks without publishing the formulation; this is the one designed here. A shape is described by the
    distribution of its foreground fractions in patches of several sizes (:func:`patch_fraction_histograms`): at
    the image's size this is the area; in small patches a thin structure (vessels) gives many partly filled
    patches, a compact one (disc, lungs) mostly empty or full ones, with a boundary band whose share depends on the
    perimeter. With ``P_g`` the prior masks' histogram at grid ``g`` (no gradient) and ``Q_g`` the cluster's,

        L = 1/G sum_g KL(P_g || Q_g) = 1/G sum_g sum_k P_gk log(P_gk / Q_gk),   P, Q smoothed by ``eps``

    a distribution-level loss: no cluster map is paired with any mask, and it is zero when the batch of
    cluster maps has the prior's distribution of patch fractions. On the Drishti-GS1 disc (the CPU recipe of
    ``benchmarks/shape_prior.py``) the guided cluster stayed diffuse under this loss (about 0.05 everywhere, never
    above 0.5); a soft histogram passes gradients mainly between neighbouring bins, which may be why.
    :class:`ShapePriorWassersteinLoss` compares the same fractions without bins.

    With ``occupancy_weight`` w > 0 the loss adds ``w KL(O_p || O_a)`` between where the foreground lies, ``O`` the
    batch's mean mask pooled to the coarsest grid and normalised to sum to 1: for priors whose position means
    something (lungs), not for rotated ones.

    Args:
        grids: patch grids (g x g patches per image), finest last.
        bins: histogram bins of the fractions.
        occupancy_weight: weight of the spatial occupancy term.
        eps: added to each histogram bin before renormalising.

    Example::

        >>> loss = ShapePriorKLLoss()
        >>> loss(cluster_maps, prior_masks)  # (N, 1, H, W) and (P, 1, H', W'), both in [0, 1]
    """

    def __init__(self, grids: tuple[int, ...] = (1, 4, 16, 64), bins: int = 10, occupancy_weight: float = 0.0,
                 eps: float = 1e-4) -> None:
        super().__init__()
        self.grids, self.bins, self.occupancy_weight, self.eps = tuple(grids), bins, occupancy_weight, eps

    def _kl(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        p = (p + self.eps) / (p + self.eps).sum(dim=-1, keepdim=True)
        q = (q + self.eps) / (q + self.eps).sum(dim=-1, keepdim=True)
        return (p * (p.log() - q.log())).sum(dim=-1).mean()

    def forward(self, cluster_maps: torch.Tensor, prior_masks: torch.Tensor) -> torch.Tensor:
        prior_masks = prior_masks.detach().to(cluster_maps)
        loss = self._kl(patch_fraction_histograms(prior_masks, self.grids, self.bins),
                        patch_fraction_histograms(cluster_maps, self.grids, self.bins))
        if self.occupancy_weight:
            grid = min(self.grids[-1], *cluster_maps.shape[-2:], *prior_masks.shape[-2:])
            occupancy = [F.adaptive_avg_pool2d(m, grid).mean(dim=0).flatten() for m in (prior_masks, cluster_maps)]
            occupancy = [o / o.sum().clamp_min(1e-12) for o in occupancy]
            loss = loss + self.occupancy_weight * self._kl(*occupancy)
        return loss


class ShapePriorWassersteinLoss(_Loss):
    """The Wasserstein-1 distance between the distributions of patch foreground fractions of the prior masks and of
    the guided cluster, at several patch sizes (the shape descriptors of :class:`ShapePriorKLLoss`, compared without
    bins; a shape-distribution divergence of method spec A8.2, designed here).

    With ``a_g`` the sorted fractions of the cluster maps' patches at grid ``g`` (:func:`patch_fractions`, K values)
    and ``Q_g`` the empirical quantile function of the prior masks' P sorted fractions ``p_g`` (no gradient),

        L = 1/G sum_g 1/K sum_k | a_g,(k) - Q_g((k + 1/2) / K) |,   Q_g(t) = p_g,(floor(t P))

    the 1-D optimal-transport distance between the two distributions (exact for equal sample sizes). Each sorted
    value is pulled towards its own quantile of the prior, however far: a diffuse cluster's brightest patches are
    pushed to full, the rest to empty, in the prior's proportions; no map is paired with any mask. Zero when the
    batch of cluster maps has the prior's distribution of patch fractions; in [0, 1].

    Args:
        grids: patch grids (g x g patches per image).
    """

    def __init__(self, grids: tuple[int, ...] = (1, 4, 16, 64)) -> None:
        super().__init__()
        self.grids = tuple(grids)

    def forward(self, cluster_maps: torch.Tensor, prior_masks: torch.Tensor) -> torch.Tensor:
        prior_masks = prior_masks.detach().to(cluster_maps)
        distances = []
        for grid in self.grids:
            fractions = torch.sort(patch_fractions(cluster_maps, grid)).values
            prior = torch.sort(patch_fractions(prior_masks, grid)).values
            # the prior's empirical quantile function at the cluster values' mid-ranks: the prior's own sorted
            # values when both batches hold as many patches
            ranks = (torch.arange(fractions.numel(), device=prior.device) * 2 + 1) * prior.numel()
            distances.append((fractions - prior[ranks // (2 * fractions.numel())]).abs().mean())
        return torch.stack(distances).mean()
