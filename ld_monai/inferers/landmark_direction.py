# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The matching direction of one landmark learned from pseudo-labelled examples: the linear, frozen-descriptor form
of the self-training stage of CC2D (Yao et al., "One-shot medical landmark detection", MICCAI 2021) that
:func:`ld_monai.inferers.self_train_template` applies to every landmark.

Each example is a window of unit descriptors ``d_{n,p}`` around a landmark's pseudo-label, the label at position
``t``. The direction ``w`` (started at ``tau * s``, ``s`` the template's unit vector) minimises

    L(w) = mean_n [ -log softmax_p(<w, d_{n,p}>)_t ] + lambda * ||w - tau * s||^2,

a softmax cross-entropy over each window's positions: the labelled pixel must score above its neighbours, which
is what the fine matching asks of the vector. The pull towards ``tau * s`` keeps ``w`` close to the template when
few examples disagree with it; ``|w|`` plays the softmax temperature during the fit and ``w / |w|`` is returned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["fit_landmark_direction"]


def fit_landmark_direction(descriptors: torch.Tensor, start: torch.Tensor, target: int, temperature: float = 20.0,
                           steps: int = 200, learning_rate: float = 0.05, pull: float = 1e-3) -> torch.Tensor:
    """The unit direction (D,) under which ``descriptors`` (N, P, D: N windows of P unit descriptors) score highest
    at position ``target``, by Adam on the loss above from ``temperature * start`` (``start``: (D,) unit).

    Raises:
        ValueError: descriptors not (N, P, D) with N >= 1, ``start`` not (D,), ``target`` outside [0, P).
    """
    if descriptors.ndim != 3 or len(descriptors) == 0:
        raise ValueError(f"descriptors must be (N, P, D) with N >= 1, got {tuple(descriptors.shape)}.")
    if start.shape != descriptors.shape[2:]:
        raise ValueError(f"start must be ({descriptors.shape[2]},), got {tuple(start.shape)}.")
    if not 0 <= target < descriptors.shape[1]:
        raise ValueError(f"target must index one of the {descriptors.shape[1]} positions, got {target}.")
    anchor = temperature * start.detach().to(descriptors.dtype)
    direction = anchor.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([direction], lr=learning_rate)
    labels = torch.full((len(descriptors),), int(target), dtype=torch.long, device=descriptors.device)
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.cross_entropy(descriptors @ direction, labels) + pull * (direction - anchor).square().sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return F.normalize(direction.detach(), dim=0)
