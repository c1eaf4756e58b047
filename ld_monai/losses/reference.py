# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A straightforward re-statement of the LDLearning research code's loss computation.

Kept as the test oracle for :class:`ld_monai.losses.LocalDiscriminationLoss` and as the baseline of
``benchmarks/ld_step.py``: it follows the research code step by step (per-sample loops for the realignment,
dense ``exp``/``log`` of the full similarity matrix in ``BatchCriterion``, the (N, M, D, H, W) broadcast product
for region features, the entropy with ``log2(a + 1e-30)``). Do not use it for training.
"""

from __future__ import annotations

import torch

__all__ = ["batch_criterion_reference", "local_discrimination_loss_reference"]


def _l2(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x / (x.norm(dim=dim, keepdim=True) + 1e-10)


def batch_criterion_reference(x: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """``BatchCriterion(negM=1, T)`` of Ye et al. / LDLearning on (N, D) unit rows; rows i and i+N/2 are positives."""
    n = x.shape[0]
    reordered = torch.cat([x[n // 2 :], x[: n // 2]], dim=0)
    pos = (x * reordered.detach()).sum(1).div(temperature).exp()
    diag = 1 - torch.eye(n, dtype=x.dtype, device=x.device)
    all_prob = torch.mm(x, x.detach().t()).div(temperature).exp() * diag
    all_div = all_prob.sum(1)
    ln_pmt = pos / all_div
    ln_pon = (1 - all_prob / all_div.unsqueeze(1)).log()
    ln_pon = ln_pon.sum(1) - (1 - ln_pmt).log()
    return -(ln_pmt.log().sum(0) + ln_pon.sum(0)) / n


def local_discrimination_loss_reference(
    embedding: torch.Tensor,
    assignment: torch.Tensor | None,
    rotation_k: torch.Tensor,
    mix_lambda: torch.Tensor,
    grid: tuple[int, int] = (8, 8),
    weights: tuple[float, float, float, float] = (1.0, 1.0, 10.0, 0.1),
) -> dict[str, torch.Tensor]:
    """Research-code computation of the LD objective; same inputs and outputs as ``LocalDiscriminationLoss``."""
    b = embedding.shape[0] // 5
    pooled = torch.nn.functional.adaptive_avg_pool2d(embedding, grid)
    patches = _l2(pooled, 1)
    rearranged = []
    for i in range(2 * b):  # per-sample realignment, as ``rearrange_features``
        k = int(rotation_k[i % b][i // b])
        rearranged.append(torch.rot90(patches[2 * b + i], -k, dims=(1, 2)))
    view2 = torch.stack(rearranged)

    def rows(p: torch.Tensor) -> torch.Tensor:
        return p.permute(0, 2, 3, 1).reshape(-1, p.shape[1])

    pd = batch_criterion_reference(torch.cat([rows(patches[: 2 * b]), rows(view2)]))
    targets = []
    for i in range(b):  # per-sample mixup target
        lam = float(mix_lambda[i])
        targets.append(_l2(lam * patches[i] + (1 - lam) * patches[b + i], 0))
    target = torch.stack(targets).detach()
    mix = batch_criterion_reference(torch.cat([rows(patches[4 * b :]), rows(target)]))
    out = {"pd": pd, "mixup": mix}
    total = weights[0] * pd + weights[1] * mix
    if assignment is not None:
        z, a = embedding[: 4 * b], assignment[: 4 * b]
        regions = _l2((z[:, None] * a[:, :, None]).mean(dim=(3, 4)), 2)  # (N, M, D, H, W) broadcast
        centres = _l2(regions.mean(0), 1)
        logits = torch.exp(torch.einsum("nmd,kd->nmk", regions, centres) / 0.2)
        p = logits / logits.sum(2, keepdim=True)
        region = -torch.log(torch.diagonal(p, dim1=1, dim2=2)).mean()
        entropy = (-a * torch.log2(a + 1e-30) - (1 - a) * torch.log2(1 - a + 1e-30)).mean()
        out.update(region=region, entropy=entropy)
        total = total + weights[2] * region + weights[3] * entropy
    out["loss"] = total
    return out
