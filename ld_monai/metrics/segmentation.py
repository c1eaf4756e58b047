# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Per-image segmentation metrics for the transfer experiments: Dice and ROC AUC, optionally inside a mask.

Local discrimination (Chen et al., arXiv 2108.09440, Appendix A7) scores retinal vessel, optic disc/cup and
lung segmentation by the Dice coefficient of each test image, averaged over the test images. Retinal vessel
protocols score only the pixels inside the field of view (FOV), hence the optional ``mask`` (1 = scored).

Conventions (both functions return one value per image and channel, shape (B, C)):

* Dice of an empty prediction and an empty label (inside the mask) is 1: nothing to find, nothing found.
* ROC AUC is NaN when a channel has only one class inside the mask (no positive or no negative pixel).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction

__all__ = ["dice_per_image", "auc_per_image", "MaskedDiceMetric", "as_binary"]


def as_binary(x: torch.Tensor, what: str) -> torch.Tensor:
    """``x`` as a bool tensor; ``ValueError`` unless every value is 0 or 1 (or ``x`` is already bool)."""
    x = x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)
    if x.dtype == torch.bool:
        return x
    if ((x != 0) & (x != 1)).any():
        found = torch.unique(x)[:5].tolist()
        raise ValueError(
            f"{what} must be binary (bool or 0/1), found values {found}; threshold probabilities first "
            "(e.g. monai.transforms.AsDiscrete(threshold=0.5))."
        )
    return x != 0


def _check_shapes(pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None, pred_name: str) -> None:
    if pred.ndim < 3 or pred.shape != label.shape:
        raise ValueError(
            f"{pred_name} and label must have the same shape (B, C, *spatial), got {tuple(pred.shape)} and "
            f"{tuple(label.shape)}."
        )
    if mask is not None and (
        mask.ndim != pred.ndim
        or mask.shape[0] != pred.shape[0]
        or mask.shape[1] not in (1, pred.shape[1])
        or mask.shape[2:] != pred.shape[2:]
    ):
        raise ValueError(
            f"mask must have shape (B, 1, *spatial) or (B, C, *spatial) matching {pred_name} {tuple(pred.shape)}, "
            f"got {tuple(mask.shape)}."
        )


def dice_per_image(
    pred: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Dice = 2|P ∩ G| / (|P| + |G|) of each image and channel, counted inside ``mask``.

    Args:
        pred: binary prediction (B, C, *spatial), bool or values in {0, 1}.
        label: binary ground truth, same shape and values as ``pred``.
        mask: optional binary region to score (B, 1, *spatial) or (B, C, *spatial), e.g. the fundus field of
            view; pixels outside are ignored.

    Returns:
        float32 tensor (B, C) in [0, 1]. When prediction and label are both empty (inside the mask) the Dice
        is 1 by convention.

    Raises:
        ValueError: non-binary inputs or mismatched shapes.

    Example::

        pred = torch.tensor([0, 1, 1, 1, 0]).view(1, 1, 1, 5)
        label = torch.tensor([0, 0, 1, 1, 1]).view(1, 1, 1, 5)
        dice_per_image(pred, label)  # tensor([[0.6667]])
    """
    p, g = as_binary(pred, "pred"), as_binary(label, "label")
    m = None if mask is None else as_binary(mask, "mask")
    _check_shapes(p, g, m, "pred")
    if m is not None:
        p, g = p & m, g & m
    dims = tuple(range(2, p.ndim))
    intersection = (p & g).sum(dim=dims, dtype=torch.float64)
    total = p.sum(dim=dims, dtype=torch.float64) + g.sum(dim=dims, dtype=torch.float64)
    dice = torch.where(total > 0, 2.0 * intersection / total.clamp_min(1.0), torch.ones_like(total))
    return dice.float()


def _binary_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Exact ROC AUC of 1-d ``scores`` for bool ``positive`` (Mann-Whitney U with average ranks for ties)."""
    n_pos = int(positive.sum())
    n_neg = positive.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    sorted_scores, order = torch.sort(scores.double())
    _, group, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    last_rank = counts.cumsum(0).double()  # 1-based rank of the last element of each group of equal scores
    average_rank = (last_rank - (counts.double() - 1.0) / 2.0)[group]
    rank_sum = average_rank[positive[order]].sum().item()
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def auc_per_image(prob: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """ROC AUC of each image and channel over the pixels inside ``mask``.

    Computed exactly from ranks (the Mann-Whitney U statistic, tied scores get their average rank), which is
    what :func:`sklearn.metrics.roc_auc_score` and :func:`monai.metrics.compute_roc_auc` return.

    Args:
        prob: scores (B, C, *spatial), e.g. sigmoid probabilities in [0, 1] (any real range works).
        label: binary ground truth (B, C, *spatial), bool or {0, 1}.
        mask: optional binary region to score, (B, 1, *spatial) or (B, C, *spatial).

    Returns:
        float64 tensor (B, C) in [0, 1]; NaN where the channel has only one class inside the mask
        (all pixels foreground or all background), where the AUC is undefined.
    """
    scores = prob.as_tensor() if hasattr(prob, "as_tensor") else torch.as_tensor(prob)
    g = as_binary(label, "label")
    m = None if mask is None else as_binary(mask, "mask")
    _check_shapes(scores, g, m, "prob")
    batch, channels = scores.shape[:2]
    out = torch.empty(batch, channels, dtype=torch.float64)
    for b in range(batch):
        for c in range(channels):
            s, y = scores[b, c].reshape(-1), g[b, c].reshape(-1)
            if m is not None:
                inside = m[b, c if m.shape[1] > 1 else 0].reshape(-1)
                s, y = s[inside], y[inside]
            out[b, c] = _binary_auc(s, y)
    return out


class MaskedDiceMetric(CumulativeIterationMetric):
    """Per-image Dice (:func:`dice_per_image`) accumulated over iterations, optionally inside a mask.

    Like :class:`monai.metrics.DiceMetric` for binary predictions (every channel is a structure, none is
    "background"), plus a ``mask`` argument, and with Dice = 1 for an empty prediction of an empty label.

    Args:
        reduction: MONAI reduction of the buffered (N, C) per-image values; ``"mean"`` (default) averages over
            channels then images, ``"mean_batch"`` gives the mean per channel, ``"none"`` returns all values.
        get_not_nans: ``aggregate()`` also returns the count of values averaged.

    Example::

        metric = MaskedDiceMetric()
        for batch in loader:
            metric(y_pred=binary_pred, y=batch["label"], mask=batch["mask"])
        mean_dice = metric.aggregate().item()
        metric.reset()
    """

    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False) -> None:
        super().__init__()
        self.reduction = reduction
        self.get_not_nans = get_not_nans

    def __call__(  # type: ignore[override]
        self,
        y_pred: torch.Tensor | Sequence[torch.Tensor],
        y: torch.Tensor | Sequence[torch.Tensor] | None = None,
        mask: torch.Tensor | Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Score a batch (B, C, *spatial) or a list of channel-first items (C, *spatial); ``mask`` matches.

        Returns the (B, C) Dice values of this iteration, which are also added to the buffer.
        """
        if y is None:
            raise ValueError("MaskedDiceMetric needs the ground truth y.")
        if isinstance(y_pred, (list, tuple)):
            masks = [None] * len(y_pred) if mask is None else list(mask)
            ret = torch.cat(
                [
                    self._compute_tensor(p[None], g[None], None if m is None else m[None])
                    for p, g, m in zip(y_pred, y, masks, strict=True)
                ]
            )
            self.extend(ret)
            return ret
        return super().__call__(y_pred=y_pred, y=y, mask=mask)

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return dice_per_image(y_pred, y, mask)

    def aggregate(
        self, reduction: MetricReduction | str | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Reduce the buffered (N, C) Dice values (default: mean over channels and images)."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"the data to aggregate must be a tensor, got {type(data)}.")
        f, not_nans = do_metric_reduction(data.clone(), reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f
