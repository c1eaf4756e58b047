# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""PEAC's objective: POPAR's order and restoration terms with global and local consistency between a student and
an EMA teacher (Zhou et al., "Learning Anatomically Consistent Embedding for Chest Radiography", BMVC 2023, arXiv
2312.00335; research code ``global_local_popar_swin.py`` lines 264-309; method spec B4).

With ``s`` / ``t`` the student / teacher outputs (:class:`ld_monai.networks.PEACNet`) of view 1 (corrupted,
cells permuted by ``pi``) and view 2 (clean), all in one batch:

    L_order   = CE(s(x1).order, pi)                                  over B * N tokens, N classes
    L_restore = MSE(s(x1).restoration, clean x1)
    L_global  = MSE(g_s(x1), g_t(x2)) + MSE(g_s(x2), g_t(x1)),      g = the L2-normalised global embedding
    L_local   = 1/2 [MSE(h_s(x1)[O1], h_t(x2)[O2]) + MSE(h_t(x1)[O1], h_s(x2)[O2])]
    L = L_order + L_restore + 1e5 L_global + L_local

``O1``, ``O2`` are the overlap masks of :class:`ld_monai.transforms.RandGridCropPaird` (matched by order; the
research code's masks are transposed, see there); ``L_local`` uses the unshuffled samples only and is 0 when every
sample is shuffled. The teacher gets no gradient. MSE is the element mean (``nn.MSELoss``), so with unit vectors
``1e5 * MSE = 1e5 (2 - 2 cos) / G``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

__all__ = ["PEACLoss", "global_consistency", "local_consistency"]


def global_consistency(student1: torch.Tensor, teacher2: torch.Tensor, student2: torch.Tensor,
                       teacher1: torch.Tensor) -> torch.Tensor:
    """``MSE(g_s1, g_t2) + MSE(g_s2, g_t1)`` of L2-normalised global embeddings (B, G); the teacher's detached."""
    def unit(x):
        return F.normalize(x, dim=-1)

    return F.mse_loss(unit(student1), unit(teacher2).detach()) + F.mse_loss(unit(student2), unit(teacher1).detach())


def local_consistency(student1: torch.Tensor, teacher2: torch.Tensor, student2: torch.Tensor, teacher1: torch.Tensor,
                      overlap1: torch.Tensor, overlap2: torch.Tensor, shuffled: torch.Tensor) -> torch.Tensor:
    """``1/2 [MSE(h_s1[O1], h_t2[O2]) + MSE(h_t1[O1], h_s2[O2])]`` over the matched tokens of the unshuffled samples
    (local embeddings (B, N, L), masks (B, N) boolean, ``shuffled`` (B,) boolean); 0 when all are shuffled."""
    keep = ~shuffled.bool()
    if overlap1.sum(1).ne(overlap2.sum(1)).any():
        raise ValueError("the two views' overlap masks mark different numbers of cells.")
    if not keep.any():
        return student1.sum() * 0.0
    first, second = overlap1[keep].bool(), overlap2[keep].bool()
    pairs = (F.mse_loss(student1[keep][first], teacher2[keep][second].detach())
             + F.mse_loss(teacher1[keep][first].detach(), student2[keep][second]))
    return pairs / 2


class PEACLoss(_Loss):
    """``order_weight * L_order + restoration_weight * L_restore + global_weight * L_global + local_weight *
    L_local`` (the module docstring; research weights 1, 1, 1e5, 1). ``forward`` takes the four output dicts of
    :class:`ld_monai.networks.PEACNet` (student and teacher on view 1 and view 2), the permutation ``pi`` (B, N), the
    clean view 1 (B, C, S, S), ``shuffled`` (B,) and the overlap masks (B, N) of each view; returns a dict with
    ``loss`` and its four terms (unweighted)."""

    def __init__(self, order_weight: float = 1.0, restoration_weight: float = 1.0, global_weight: float = 1e5,
                 local_weight: float = 1.0) -> None:
        super().__init__()
        self.weights = {"order": order_weight, "restoration": restoration_weight, "global": global_weight,
                        "local": local_weight}

    def forward(self, student1: dict, teacher1: dict, student2: dict, teacher2: dict, permutation: torch.Tensor,
                clean_view1: torch.Tensor, shuffled: torch.Tensor, overlap1: torch.Tensor,
                overlap2: torch.Tensor) -> dict[str, torch.Tensor]:
        order = student1["order"]
        terms = {
            "order": F.cross_entropy(order.reshape(-1, order.shape[-1]), permutation.reshape(-1).long()),
            "restoration": F.mse_loss(student1["restoration"], clean_view1),
            "global": global_consistency(student1["global"], teacher2["global"], student2["global"],
                                         teacher1["global"]),
            "local": local_consistency(student1["local"], teacher2["local"], student2["local"], teacher1["local"],
                                       overlap1, overlap2, shuffled),
        }
        terms["loss"] = sum(self.weights[name] * value for name, value in terms.items())
        return terms
