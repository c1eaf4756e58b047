# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.metrics.segmentation: per-image Dice and ROC AUC against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from ld_monai.metrics import MaskedDiceMetric, auc_per_image, dice_per_image


def _row(*values: float) -> torch.Tensor:
    """A (1, 1, 1, W) image holding ``values``."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def test_dice_hand_example_and_mask():
    pred = _row(0, 1, 1, 1, 0)  # P = {1, 2, 3}
    label = _row(0, 0, 1, 1, 1)  # G = {2, 3, 4}
    assert dice_per_image(pred, label).item() == pytest.approx(2 * 2 / 6)
    # outside the mask (pixels 1 and 4) nothing counts: P = G = {2, 3}
    mask = _row(1, 0, 1, 1, 0)
    assert dice_per_image(pred, label, mask).item() == pytest.approx(1.0)
    # bool inputs give the same
    assert dice_per_image(pred.bool(), label.bool()).item() == pytest.approx(2 / 3)


def test_dice_per_image_and_channel_and_empty_convention():
    pred = torch.zeros(2, 2, 3, 3)
    label = torch.zeros(2, 2, 3, 3)
    pred[0, 0, 0, 0] = 1  # image 0 channel 0: P = 1 pixel, G empty -> 0
    label[1, 1, :2] = 1  # image 1 channel 1: G = 6 pixels, P = 3 of them -> 2*3/9
    pred[1, 1, 0] = 1
    dice = dice_per_image(pred, label)
    assert dice.shape == (2, 2) and dice.dtype == torch.float32
    expected = torch.tensor([[0.0, 1.0], [1.0, 2 * 3 / 9]])  # empty/empty -> 1
    assert torch.allclose(dice, expected)
    # a mask that excludes the only false positive makes image 0 channel 0 empty/empty -> 1
    mask = torch.ones(2, 1, 3, 3)
    mask[0, 0, 0, 0] = 0
    assert dice_per_image(pred, label, mask)[0, 0].item() == 1.0


def test_dice_rejects_probabilities_and_bad_shapes():
    with pytest.raises(ValueError, match="binary"):
        dice_per_image(_row(0.2, 0.9), _row(0, 1))
    with pytest.raises(ValueError, match="same shape"):
        dice_per_image(_row(0, 1), _row(0, 1, 1))
    with pytest.raises(ValueError, match="mask"):
        dice_per_image(_row(0, 1), _row(0, 1), torch.ones(1, 1, 1, 3))


def test_masked_dice_metric_batch_and_list():
    pred = torch.cat([_row(0, 1, 1, 1, 0), _row(1, 1, 0, 0, 0)])
    label = torch.cat([_row(0, 0, 1, 1, 1), _row(1, 1, 0, 0, 0)])
    mask = torch.cat([_row(1, 0, 1, 1, 0), _row(1, 1, 1, 1, 1)])
    metric = MaskedDiceMetric()
    assert torch.allclose(metric(pred, label), torch.tensor([[2 / 3], [1.0]]))
    # list of channel-first items, with a batched mask: Dice 1 and 1
    metric(list(pred), list(label), mask=mask)
    assert metric.aggregate().item() == pytest.approx((2 / 3 + 1 + 1 + 1) / 4)
    assert torch.allclose(metric.aggregate(reduction="none")[:, 0], torch.tensor([2 / 3, 1, 1, 1]))
    metric.reset()
    metric(pred, label, mask=mask)
    assert metric.aggregate().item() == pytest.approx(1.0)


def test_auc_known_rankings():
    label = _row(0, 0, 1, 1)
    assert auc_per_image(_row(0.1, 0.2, 0.8, 0.9), label).item() == 1.0  # perfect ranking
    assert auc_per_image(_row(0.9, 0.8, 0.2, 0.1), label).item() == 0.0  # reversed
    assert auc_per_image(_row(0.5, 0.5, 0.5, 0.5), label).item() == 0.5  # constant
    # ties: negatives {0.1, 0.5}, positives {0.5, 0.9}; pairs (neg, pos): (0.1,0.5)=1 (0.1,0.9)=1 (0.5,0.5)=1/2
    # (0.5,0.9)=1 -> 3.5/4
    assert auc_per_image(_row(0.1, 0.5, 0.5, 0.9), label).item() == pytest.approx(3.5 / 4)


def test_auc_mask_nan_and_channels():
    prob = torch.cat([_row(0.9, 0.1, 0.8, 0.2), _row(0.3, 0.1, 0.8, 0.2)], dim=1)  # (1, 2, 1, 4)
    label = torch.cat([_row(1, 0, 0, 1), _row(0, 0, 0, 0)], dim=1)
    auc = auc_per_image(prob, label)
    assert auc.shape == (1, 2)
    # channel 0: positives {0.9, 0.2}, negatives {0.1, 0.8}: 0.9 beats both, 0.2 beats 0.1 only -> 3 of 4
    assert auc[0, 0].item() == pytest.approx(0.75)
    assert math.isnan(auc[0, 1].item())  # only background: undefined
    mask = _row(1, 1, 0, 1)  # drops the 0.8 negative -> perfect ranking
    assert auc_per_image(prob[:, :1], label[:, :1], mask).item() == 1.0


def test_auc_matches_monai_compute_roc_auc():
    from monai.metrics import compute_roc_auc

    g = torch.Generator().manual_seed(1)
    label = (torch.rand(1, 1, 12, 12, generator=g) > 0.6).float()
    prob = (torch.rand(1, 1, 12, 12, generator=g) * 5).round() / 5
    expected = compute_roc_auc(prob.reshape(-1), label.reshape(-1))
    assert auc_per_image(prob, label).item() == pytest.approx(float(expected), abs=1e-6)  # MONAI: float32
