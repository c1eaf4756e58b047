# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Linear probes of frozen per-pixel features: what a pretrained network "knows" before any fine-tuning.

Self-supervised representations are commonly judged by a linear classifier trained on frozen features
(e.g. the probes of Chen et al.'s local discrimination, arXiv 2108.09440, and of most self-supervised work).
For dense features the classifier labels pixels: a class-balanced logistic regression fitted on a sample of
pixels of training images, scored by per-image Dice (:func:`ld_monai.metrics.dice_per_image`) on held-out
images. ``benchmarks/embedding_probe.py`` applies it to LD's hypercolumns and embedding (vessels, optic disc
and cup, lungs).

* :func:`sample_probe_pixels`: a seeded, class-stratified sample of pixel indices of one image (inside a mask);
* :func:`fit_linear_probe`: standardise the features with the training statistics and fit a class-balanced,
  L2-regularised logistic regression with L-BFGS (``torch.optim.LBFGS``): a :class:`LinearProbe`.

Why not scikit-learn's ``LogisticRegression(class_weight="balanced")``: scikit-learn is not a dependency of
ld_monai (torch, MONAI and Ignite are), and the few lines here are the same objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["LinearProbe", "fit_linear_probe", "sample_probe_pixels"]


@dataclass
class LinearProbe:
    """A fitted linear pixel classifier: ``logit = ((x - mean) / std) . weight + bias``.

    Attributes:
        mean, std: (D,) feature statistics of the training sample (the standardisation).
        weight: (D,) weights of the standardised features; bias: () tensor.
    """

    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def _folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights and bias on the raw features (the standardisation folded in)."""
        w = self.weight / self.std
        return w, self.bias - (self.mean * w).sum()

    def logits(self, features: torch.Tensor, channel_dim: int = -1) -> torch.Tensor:
        """Logits of ``features``: (N, D) with ``channel_dim=-1`` -> (N,), or a map (D, *spatial) with
        ``channel_dim=0`` -> (*spatial). Positive logit = the structure."""
        w, b = self._folded()
        f = features.movedim(channel_dim, -1)
        if f.shape[-1] != w.numel():
            raise ValueError(f"features have {f.shape[-1]} channels, the probe was fitted on {w.numel()}.")
        return f.to(w.dtype) @ w + b

    def predict(self, features: torch.Tensor, channel_dim: int = -1) -> torch.Tensor:
        """Boolean prediction (logit > 0), shaped as :meth:`logits`."""
        return self.logits(features, channel_dim) > 0


def fit_linear_probe(
    x: torch.Tensor,
    y: torch.Tensor,
    weight_decay: float = 1e-4,
    max_iter: int = 200,
    balanced: bool = True,
) -> LinearProbe:
    """Fit a logistic regression on standardised features with L-BFGS (strong Wolfe line search).

    Objective (``balanced=True``): ``0.5 * mean BCE(positives) + 0.5 * mean BCE(negatives) + weight_decay *
    ||weight||^2``, on features standardised with the mean and standard deviation of ``x`` (constant features
    get std 1). Each class has the same total weight whatever its pixel count (vessels cover ~12 % of the
    field of view, the optic cup ~1 % of the photograph), which is scikit-learn's ``class_weight="balanced"``.
    ``balanced=False`` averages the BCE over all samples. The bias is not regularised.

    Args:
        x: (N, D) float features of the sampled pixels.
        y: (N,) labels, bool or {0, 1}.
        weight_decay: L2 penalty on the standardised weights.
        max_iter: L-BFGS iterations.
        balanced: weight the classes equally.

    Returns:
        a :class:`LinearProbe` (float32 tensors, detached).

    Raises:
        ValueError: shapes do not match, ``y`` is not binary or has one class only, ``x`` is not finite.

    Example::

        probe = fit_linear_probe(features_of_sampled_pixels, labels_of_sampled_pixels)
        pred = probe.predict(feature_map, channel_dim=0)  # (H, W) bool
    """
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x (N, D) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}.")
    if not torch.isfinite(x).all():
        raise ValueError("features contain NaN or infinite values.")
    if y.dtype != torch.bool and ((y != 0) & (y != 1)).any():
        raise ValueError(f"labels must be bool or 0/1, found {torch.unique(y)[:5].tolist()}.")
    target = (y != 0).float()
    n_pos = int(target.sum())
    if n_pos == 0 or n_pos == len(target):
        raise ValueError(f"need both classes to fit a probe, got {n_pos} positive of {len(target)} samples.")
    x = x.float()
    mean = x.mean(0)
    std = x.std(0, unbiased=False)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    z = (x - mean) / std
    if balanced:
        sample_weight = torch.where(target > 0, 0.5 / n_pos, 0.5 / (len(target) - n_pos))
    else:
        sample_weight = torch.full_like(target, 1.0 / len(target))
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        bce = F.binary_cross_entropy_with_logits(z @ weight + bias, target, reduction="none")
        loss = (sample_weight * bce).sum() + weight_decay * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return LinearProbe(mean=mean, std=std, weight=weight.detach().clone(), bias=bias.detach().clone())


def sample_probe_pixels(
    label: torch.Tensor,
    num: int,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """A seeded, class-stratified sample of flat pixel indices of one image, for fitting a probe.

    Up to ``num // 2`` foreground pixels (all of them if there are fewer) and background pixels for the rest
    of ``num`` (all if fewer), each drawn uniformly without replacement inside ``mask``. Sampling the rare
    class more often than its frequency lowers the variance of the balanced objective of
    :func:`fit_linear_probe` without changing it (each class is weighted to the same total).

    Args:
        label: (*spatial) binary label of the image.
        num: pixels to draw (at most).
        generator: ``torch.Generator`` (seeded by the caller: the sample is then reproducible).
        mask: optional (*spatial) binary region to draw from (e.g. the fundus field of view).

    Returns:
        int64 indices into ``label.flatten()``, foreground first, then background.

    Raises:
        ValueError: shapes differ, ``num < 1`` or the mask is empty.
    """
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}.")
    if mask is not None and mask.shape != label.shape:
        raise ValueError(f"mask {tuple(mask.shape)} and label {tuple(label.shape)} must have the same shape.")
    lab = label.reshape(-1) != 0
    inside = torch.ones_like(lab) if mask is None else mask.reshape(-1) != 0
    if not inside.any():
        raise ValueError("the mask is empty: no pixel to sample.")
    positive = (lab & inside).nonzero()[:, 0]
    negative = (~lab & inside).nonzero()[:, 0]
    n_pos = min(len(positive), num // 2)
    n_neg = min(len(negative), num - n_pos)
    pick_pos = positive[torch.randperm(len(positive), generator=generator)[:n_pos]]
    pick_neg = negative[torch.randperm(len(negative), generator=generator)[:n_neg]]
    return torch.cat([pick_pos, pick_neg])
