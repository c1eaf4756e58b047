# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Zero-shot co-segmentation: the patch embeddings of a set of images clustered together into parts, the same part
the same label in every image (PEAC: Zhou et al., BMVC 2023, arXiv 2312.00335, ``visualizations/cosegmentation.py``,
after dino-vit-features, Amir et al. 2021; method spec B6), for PEAC and LD embeddings alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ld_monai.layers.kmeans import elbow_kmeans, kmeans

__all__ = ["Cosegmentation", "cosegment"]


@dataclass
class Cosegmentation:
    """``parts``: a (h, w) label map per image (part ``p`` is the same part in every image); ``centroids`` (k, D);
    ``foreground_parts``: the parts voted foreground (empty without foreground masks)."""

    parts: list[torch.Tensor]
    centroids: torch.Tensor
    foreground_parts: list[int]

    @property
    def num_parts(self) -> int:
        return len(self.centroids)

    def foreground(self) -> list[torch.Tensor]:
        """Per image, the union of the foreground parts (h, w), boolean."""
        chosen = torch.tensor(self.foreground_parts, dtype=torch.long)
        return [torch.isin(parts, chosen) for parts in self.parts]


def cosegment(embeddings: Sequence[torch.Tensor], num_parts: int | None = None, max_parts: int = 14,
              sample_every: int = 1, foreground: Sequence[torch.Tensor] | None = None, vote_threshold: float = 0.5,
              vote_share: float = 0.75, seed: int = 0) -> Cosegmentation:
    """Cluster the unit embeddings of every cell of every map (D, h_i, w_i) into parts: ``num_parts`` given, or
    chosen by the elbow rule up to ``max_parts`` (:func:`ld_monai.layers.elbow_kmeans`), fitted on every
    ``sample_every``-th cell (the research code: every 100th of stride-4 ViT descriptors) and assigned to every cell.

    With ``foreground`` (a (h_i, w_i) mask per image, e.g. the body), a part is foreground when in at least
    ``vote_share`` of the images more than ``vote_threshold`` of its cells lie in the mask (the research code votes
    with ViT saliency, 0.065 of mean saliency and 75 % of the images)."""
    if not embeddings:
        raise ValueError("cosegment needs at least one embedding map.")
    flat = [F.normalize(e.flatten(1).T.float(), dim=1) for e in embeddings]
    everything = torch.cat(flat)
    fitted = everything[::max(sample_every, 1)]
    if num_parts is None:
        centroids, _, _ = elbow_kmeans(fitted, max_parts, seed=seed)
    else:
        centroids, _, _ = kmeans(fitted, num_parts, seed=seed)
    parts = [torch.cdist(cells, centroids).argmin(1).view(e.shape[1:]) for cells, e in zip(flat, embeddings)]
    foreground_parts: list[int] = []
    if foreground is not None:
        if len(foreground) != len(parts):
            raise ValueError(f"{len(foreground)} foreground masks for {len(parts)} images.")
        votes = torch.zeros(len(centroids))
        for labels, mask in zip(parts, foreground):
            for part in labels.unique().tolist():
                if mask.bool()[labels == part].float().mean() > vote_threshold:
                    votes[part] += 1
        needed = math.ceil(vote_share * len(parts))
        foreground_parts = [part for part in range(len(centroids)) if votes[part] >= needed]
    return Cosegmentation(parts, centroids, foreground_parts)
