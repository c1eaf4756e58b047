# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceLoss

from ld_monai.losses import UncertaintyWeightedLoss


def test_unit_weights_give_bce_plus_monai_dice():
    torch.manual_seed(0)
    logits, label = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    target = torch.cat([label, torch.ones_like(label)], dim=1)
    expected = F.binary_cross_entropy_with_logits(logits, label) + DiceLoss(sigmoid=True, batch=True,
                                                                          smooth_nr=1e-5, smooth_dr=1e-5)(logits,
                                                                                                          label)
    torch.testing.assert_close(UncertaintyWeightedLoss()(logits, target), expected)


def test_pixels_without_certainty_do_not_count():
    torch.manual_seed(0)
    logits = torch.randn(1, 1, 8, 8, requires_grad=True)
    label = (torch.rand(1, 1, 8, 8) > 0.5).float()
    weight = torch.ones_like(label)
    weight[..., :4] = 0.0
    loss = UncertaintyWeightedLoss()
    value = loss(logits, torch.cat([label, weight], dim=1))
    value.backward()
    assert (logits.grad[..., :4] == 0).all() and (logits.grad[..., 4:] != 0).any()
    # what the uncertain pixels say does not matter, and the loss does not depend on the weights' scale
    flipped = label.clone()
    flipped[..., :4] = 1 - flipped[..., :4]
    torch.testing.assert_close(loss(logits, torch.cat([flipped, 0.3 * weight], dim=1)), value)


def test_lower_for_logits_that_agree_with_the_pseudo_label():
    label = torch.zeros(1, 1, 8, 8)
    label[..., 2:6, 2:6] = 1
    target = torch.cat([label, torch.full_like(label, 0.7)], dim=1)
    loss = UncertaintyWeightedLoss()
    assert loss(8 * (2 * label - 1), target) < loss(torch.zeros_like(label), target) < loss(8 * (1 - 2 * label),
                                                                                           target)
    with pytest.raises(ValueError, match="weight"):
        loss(torch.zeros(1, 1, 8, 8), label)
