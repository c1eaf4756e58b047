# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.metrics.linear_probe: the class-balanced logistic probe and the stratified pixel sample."""

from __future__ import annotations

import pytest
import torch

from ld_monai.metrics import dice_per_image, fit_linear_probe, sample_probe_pixels


def _separable_maps(num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(num, 8, 32, 32) feature maps and (num, 32, 32) labels: a thin rare structure (~6 % of the pixels) whose
    pixels are shifted by +3 along one hidden direction of the features, plus unit noise in the others."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(num, 32, 32, dtype=torch.bool)
    for i in range(num):
        row = int(torch.randint(0, 30, (1,), generator=g))
        labels[i, row : row + 2] = True  # 2 of 32 rows
    direction = torch.tensor([1.0, -1.0, 0.5, 0, 0, 0, 0, 2.0])
    direction = direction / direction.norm()
    features = 0.1 * torch.randn(num, 8, 32, 32, generator=g) + 5.0  # offset: the probe standardises
    features = features + 3.0 * labels[:, None].float() * direction.view(1, 8, 1, 1)
    return features, labels


def test_separable_rare_structure_gives_dice_one_on_held_out_images():
    train_f, train_y = _separable_maps(6, seed=0)
    test_f, test_y = _separable_maps(4, seed=1)
    g = torch.Generator().manual_seed(0)
    xs, ys = [], []
    for f, y in zip(train_f, train_y):
        idx = sample_probe_pixels(y, 200, g)
        xs.append(f.flatten(1)[:, idx].T)
        ys.append(y.flatten()[idx])
    probe = fit_linear_probe(torch.cat(xs), torch.cat(ys))
    pred = torch.stack([probe.predict(f, channel_dim=0) for f in test_f])
    assert pred.shape == test_y.shape
    dice = dice_per_image(pred[:, None], test_y[:, None])
    assert dice.min().item() > 0.99


def test_balanced_probe_puts_the_boundary_midway_whatever_the_class_counts():
    # 1-D feature: 10 positives at +1, 90 negatives at -1. The balanced objective is symmetric in the raw
    # feature, so the boundary is at x = 0 (logit 0); an unbalanced fit favours the majority (logit < 0).
    x = torch.cat([torch.ones(10), -torch.ones(90)])[:, None]
    y = torch.cat([torch.ones(10), torch.zeros(90)])
    balanced = fit_linear_probe(x, y, weight_decay=1e-2)
    assert balanced.logits(torch.zeros(1, 1)).item() == pytest.approx(0.0, abs=2e-3)
    assert balanced.logits(torch.ones(1, 1)).item() > 0 > balanced.logits(-torch.ones(1, 1)).item()
    plain = fit_linear_probe(x, y, weight_decay=1e-2, balanced=False)
    assert plain.logits(torch.zeros(1, 1)).item() < -0.1
    # standardisation with the training statistics: mean -0.8, std 0.6
    assert balanced.mean.item() == pytest.approx(-0.8)
    assert balanced.std.item() == pytest.approx(0.6)


def test_balanced_probe_ignores_duplicated_positives_and_affine_feature_changes():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(300, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.8 * torch.randn(300, generator=g)) > 1.0
    probe = fit_linear_probe(x, y)
    # each class has the same total weight: repeating the positives 5 times changes the statistics only
    x5 = torch.cat([x] + [x[y]] * 4)
    y5 = torch.cat([y] + [y[y]] * 4)
    assert fit_linear_probe(x5, y5).predict(x).float().mean().item() == pytest.approx(
        probe.predict(x).float().mean().item(), abs=0.05
    )
    # standardised features: scaling and shifting the features gives the same logits
    scale, shift = torch.tensor([10.0, 0.1, 3.0, 1.0]), torch.tensor([100.0, -5.0, 0.0, 2.0])
    moved = fit_linear_probe(x * scale + shift, y)
    torch.testing.assert_close(moved.logits(x * scale + shift), probe.logits(x), atol=1e-3, rtol=1e-3)


def test_logits_of_a_map_equal_the_logits_of_its_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 5, generator=g)
    probe = fit_linear_probe(x, x[:, 2] > 0)
    feature_map = torch.randn(5, 7, 9, generator=g)
    by_map = probe.logits(feature_map, channel_dim=0)
    assert by_map.shape == (7, 9)
    torch.testing.assert_close(by_map.flatten(), probe.logits(feature_map.flatten(1).T))
    with pytest.raises(ValueError, match="channels"):
        probe.logits(torch.randn(3, 6))


def test_fit_errors():
    x = torch.randn(10, 2)
    with pytest.raises(ValueError, match="both classes"):
        fit_linear_probe(x, torch.zeros(10))
    with pytest.raises(ValueError, match="0/1"):
        fit_linear_probe(x, torch.full((10,), 2.0))
    with pytest.raises(ValueError, match="expected x"):
        fit_linear_probe(x, torch.zeros(9))
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_probe(bad, torch.arange(10) % 2)


def test_sample_probe_pixels_is_stratified_inside_the_mask_and_seeded():
    label = torch.zeros(10, 10, dtype=torch.bool)
    label[2:4, 2:7] = True  # 10 foreground pixels
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:, :8] = True  # 80 pixels inside, all 10 foreground among them
    idx = sample_probe_pixels(label, 30, torch.Generator().manual_seed(0), mask=mask)
    assert len(idx) == 30 and len(set(idx.tolist())) == 30
    assert mask.flatten()[idx].all()
    assert label.flatten()[idx].sum().item() == 10  # all 10 (< 30 // 2) foreground pixels, 20 background
    # 8 wanted: 4 + 4
    idx8 = sample_probe_pixels(label, 8, torch.Generator().manual_seed(0), mask=mask)
    assert label.flatten()[idx8].sum().item() == 4 and len(idx8) == 8
    torch.testing.assert_close(idx8, sample_probe_pixels(label, 8, torch.Generator().manual_seed(0), mask=mask))
    # more than the mask holds: every pixel inside once
    assert sorted(sample_probe_pixels(label, 500, torch.Generator(), mask=mask).tolist()) == \
        mask.flatten().nonzero()[:, 0].tolist()
    with pytest.raises(ValueError, match="empty"):
        sample_probe_pixels(label, 8, torch.Generator(), mask=torch.zeros(10, 10))
    with pytest.raises(ValueError, match="same shape"):
        sample_probe_pixels(label, 8, torch.Generator(), mask=torch.ones(5, 5))
