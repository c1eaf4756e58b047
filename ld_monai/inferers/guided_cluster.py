# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The structure found by a shape-guided LD network, and the pseudo-labels that refine it (Chen et al., arXiv
2108.09440, shape-guided segmentation; method spec A8.1 step 3 and A8.2 (b)).
"""

from __future__ import annotations

import torch
from torch import nn

from ld_monai.layers.pooling import l2_normalize
from ld_monai.losses.region_discrimination import binary_entropy_bits

__all__ = ["guided_cluster_probability", "GuidedClusterSegmenter", "pseudo_label_and_certainty"]


def guided_cluster_probability(embedding: torch.Tensor, assignment: torch.Tensor, cluster: int = 0,
                               rule: str = "threshold", temperature: float = 0.2,
                               field_of_view: torch.Tensor | None = None) -> torch.Tensor:
    """The guided cluster's probability map (N, 1, H, W), by one of the research code's two rules.

    * ``"threshold"`` (rule A): the assignment ``a_c`` itself;
    * ``"recluster"`` (rule B): each cluster's region feature ``r_m = l2norm(mean_x a_m(x) F(x) z(x))``, then
      ``q_m(x) = softmax_m(z(x) . r_m / T)``; returns ``q_c``;
    * ``"argmax"``: 1 where cluster ``c`` has the largest assignment, else 0 (the clusters as a partition, as the
      cluster pictures show them).

    ``F`` is the field of view (N, 1, H, W), 1 everywhere when None; the map is multiplied by it (outside: 0).
    ``embedding`` (N, D, H, W) unit vectors, ``assignment`` (N, M, H, W) summing to 1 over M.
    """
    fov = None if field_of_view is None else field_of_view.to(assignment)
    if rule == "threshold":
        probability = assignment[:, cluster: cluster + 1]
    elif rule == "argmax":
        probability = (assignment.argmax(dim=1, keepdim=True) == cluster).to(assignment.dtype)
    elif rule == "recluster":
        inside = assignment if fov is None else assignment * fov
        regions = l2_normalize(torch.einsum("nmhw,ndhw->nmd", inside, embedding), dim=2)
        logits = torch.einsum("ndhw,nmd->nmhw", embedding, regions) / temperature
        probability = torch.softmax(logits, dim=1)[:, cluster: cluster + 1]
    else:
        raise ValueError(f"rule must be 'threshold', 'recluster' or 'argmax', got {rule!r}.")
    return probability if fov is None else probability * fov


class GuidedClusterSegmenter(nn.Module):
    """A shape-guided :class:`ld_monai.networks.LocalDiscriminationNet` as a segmentation network: input (N, C, H, W)
    -> the guided cluster's probability (N, 1, H, W) (:func:`guided_cluster_probability`), averaged over a
    left-right flip when ``flip_average`` (a flipped image's map, flipped back). With ``logits`` it returns
    ``log(p / (1 - p))`` instead (``p`` clipped to [1e-6, 1 - 1e-6]), so that the segmentation bundles'
    post-processing (a sigmoid, then a threshold at 0.5) gives back ``p`` and ``p > 0.5``.

    With ``complement`` the map is ``1 - p``: the structure is the rest of the image, for a model whose guided
    cluster took the other side of the boundary (the adversarial prior does not always decide it; the label-free
    decision is :func:`ld_monai.apps.cluster_polarity.decide_cluster_polarity`)."""

    def __init__(self, network: nn.Module, cluster: int = 0, rule: str = "threshold", temperature: float = 0.2,
                 flip_average: bool = False, logits: bool = False, complement: bool = False) -> None:
        super().__init__()
        self.network, self.cluster, self.rule, self.temperature = network, cluster, rule, temperature
        self.flip_average, self.logits, self.complement = flip_average, logits, complement

    def _probability(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if "assignment" not in out:
            raise ValueError("the network has no clustering head (num_clusters=0): nothing was guided.")
        return guided_cluster_probability(out["embedding"], out["assignment"], self.cluster, self.rule,
                                          self.temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probability = self._probability(x)
        if self.flip_average:
            probability = (probability + self._probability(x.flip(-1)).flip(-1)) / 2
        if self.complement:
            probability = 1 - probability
        return torch.logit(probability, eps=1e-6) if self.logits else probability


def pseudo_label_and_certainty(probability: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The refinement target of a guided cluster's probability ``p`` (N, 1, H, W): channel 0 the pseudo-label
    ``p > threshold``, channel 1 its certainty ``1 - H(p)``, ``H`` the binary entropy in bits (1 where ``p`` is 0 or
    1, 0 where it is 0.5): the uncertainty map of A8.2 (b) as a per-pixel weight for
    :class:`ld_monai.losses.UncertaintyWeightedLoss`. Returns (N, 2, H, W)."""
    p = probability.clamp(0, 1)
    return torch.cat([(p > threshold).to(p.dtype), 1 - binary_entropy_bits(p)], dim=1)
