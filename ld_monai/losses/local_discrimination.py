# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The combined local-discrimination objective over the five-view batch.

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440:
``L = L_PD + L_mix + 10 L_RD + 0.1 L_ent`` (LDLearning ``step2_train_ld.py``); without a clustering head
(the patch-discrimination stage) ``L = L_PD + L_mix``.
"""

from __future__ import annotations

import torch
from torch.nn.modules.loss import _Loss

from ld_monai.losses.patch_discrimination import HypersphereMixupLoss, PatchDiscriminationLoss
from ld_monai.losses.region_discrimination import AssignmentEntropyLoss, RegionDiscriminationLoss
from ld_monai.networks.center_sensitive_pooling import center_sensitive_grid_features
from ld_monai.networks.pooling import grid_patch_features, region_features

__all__ = ["LocalDiscriminationLoss", "realign_rotated", "NUM_VIEWS"]

#: views per image pair: [image1 view1, image2 view1, image1 view2, image2 view2, mixup]
NUM_VIEWS = 5


def realign_rotated(features: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Undo ``torch.rot90(view, k[b], dims=(-2, -1))`` on each sample's (square) feature map, without a loop.

    Args:
        features: (B, D, g, g).
        k: (B,) integer rotations in {0, 1, 2, 3} recorded by :class:`ld_monai.transforms.LocalDiscriminationViewsd`.
    """
    if features.shape[-1] != features.shape[-2]:
        raise ValueError(f"rotated views need a square feature grid, got {tuple(features.shape[-2:])}.")
    k = torch.as_tensor(k, device=features.device).long().reshape(-1) % 4
    candidates = torch.stack([torch.rot90(features, -r, dims=(-2, -1)) for r in range(4)])  # (4, B, D, g, g)
    return candidates[k, torch.arange(features.shape[0], device=features.device)]


class LocalDiscriminationLoss(_Loss):
    """LD objective on the network outputs of one five-view batch.

    Inputs (batch of B image pairs, views stacked view-major as ``[v1 of image1 (B), v1 of image2 (B),
    v2 of image1 (B), v2 of image2 (B), mixup (B)]``):

    * ``embedding``: (5B, D, H, W) unit per-pixel embeddings;
    * ``assignment``: (5B, M, H, W) soft assignments, or ``None`` for the patch-discrimination stage;
    * ``rotation_k``: (B, 2) rotations of the second views of image1 and image2;
    * ``mix_lambda``: (B,) mixing weights of the mixup views.

    Returns a dict with the weighted total ``"loss"`` and the unweighted terms ``"pd"``, ``"mixup"`` and, with
    assignments, ``"region"`` and ``"entropy"``. Region features and entropy use the four non-mixup views.

    Args:
        grid: patch grid, (8, 8) in the paper (56-px cells of a 448 crop).
        center_sensitive: pool each grid cell with a bell peaking at its centre
            (:func:`ld_monai.networks.center_sensitive_grid_features`, ``sigma = center_sigma_fraction`` x the cell
            size) instead of the uniform average: the paper's center-sensitive patch discrimination for one-shot
            landmarks (its settings are unpublished; ours are in ``docs/oneshot_landmarks.md``).
        patch_temperature: 0.1. region_temperature: 0.2.
        pd_weight, mixup_weight, region_weight, entropy_weight: the paper's 1, 1, 10, 0.1.
    """

    def __init__(
        self,
        grid: tuple[int, int] = (8, 8),
        patch_temperature: float = 0.1,
        region_temperature: float = 0.2,
        pd_weight: float = 1.0,
        mixup_weight: float = 1.0,
        region_weight: float = 10.0,
        entropy_weight: float = 0.1,
        center_sensitive: bool = False,
        center_sigma_fraction: float = 0.25,
    ) -> None:
        super().__init__()
        self.grid = tuple(grid)
        self.center_sensitive = bool(center_sensitive)
        self.center_sigma_fraction = float(center_sigma_fraction)
        self.patch_loss = PatchDiscriminationLoss(patch_temperature)
        self.mixup_loss = HypersphereMixupLoss(patch_temperature)
        self.region_loss = RegionDiscriminationLoss(region_temperature)
        self.entropy_loss = AssignmentEntropyLoss()
        self.weights = {"pd": pd_weight, "mixup": mixup_weight, "region": region_weight, "entropy": entropy_weight}

    def forward(
        self,
        embedding: torch.Tensor,
        assignment: torch.Tensor | None,
        rotation_k: torch.Tensor,
        mix_lambda: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        if embedding.ndim != 4 or embedding.shape[0] % NUM_VIEWS:
            raise ValueError(f"embedding must be (5B, D, H, W), got {tuple(embedding.shape)}.")
        b = embedding.shape[0] // NUM_VIEWS
        rotation_k = torch.as_tensor(rotation_k, device=embedding.device).reshape(b, 2)
        if self.center_sensitive:
            patches = center_sensitive_grid_features(embedding, self.grid, self.center_sigma_fraction)
        else:
            patches = grid_patch_features(embedding, self.grid)
        patches = patches.unflatten(0, (NUM_VIEWS, b))
        view1 = patches[0:2].flatten(0, 1)
        view2 = realign_rotated(patches[2:4].flatten(0, 1), rotation_k.T.reshape(-1))
        terms = {
            "pd": self.patch_loss(view1, view2),
            "mixup": self.mixup_loss(patches[4], patches[0], patches[1], mix_lambda),
        }
        if assignment is not None:
            if assignment.shape[0] != embedding.shape[0] or assignment.shape[2:] != embedding.shape[2:]:
                raise ValueError(
                    f"assignment {tuple(assignment.shape)} does not match embedding {tuple(embedding.shape)}."
                )
            n = 4 * b
            terms["region"] = self.region_loss(region_features(embedding[:n], assignment[:n]))
            terms["entropy"] = self.entropy_loss(assignment[:n])
        terms["loss"] = sum(self.weights[name] * value for name, value in terms.items())
        return terms
