# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the torch colour jitter (torchvision ColorJitter + RandomGrayscale semantics)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import (
    ColorJitterParams,
    RandColorJitter,
    RandColorJitterd,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
)

GRAY_W = np.array([0.2989, 0.587, 0.114])


def _img(c=3, h=16, w=20, seed=0):
    return torch.rand(c, h, w, generator=torch.Generator().manual_seed(seed))


def test_output_range_shape_dtype():
    jitter = RandColorJitter(brightness=0.9, contrast=0.9, saturation=0.9, hue=0.5).set_random_state(3)
    for seed in range(20):
        img = _img(seed=seed)
        out = jitter(img)
        assert out.shape == img.shape and out.dtype == torch.float32
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_identity_when_disabled():
    img = _img()
    jitter = RandColorJitter(0, 0, 0, 0, grayscale_prob=0.0).set_random_state(0)
    for _ in range(3):
        assert torch.equal(jitter(img), img)
    mt = MetaTensor(img, meta={"filename_or_obj": "f.png"})
    out = jitter(mt)
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "f.png" and torch.equal(out.as_tensor(), img)


def test_grayscale_has_equal_channels():
    out = RandColorJitter(grayscale_prob=1.0).set_random_state(1)(_img())
    assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])
    assert not torch.equal(out[0], _img()[0])


def test_grayscale_probability():
    jitter = RandColorJitter(0, 0, 0, 0, grayscale_prob=0.2).set_random_state(0)
    grays = 0
    for _ in range(500):
        jitter.randomize()
        grays += jitter.params.grayscale
    assert 70 <= grays <= 130


def test_determinism_under_set_random_state():
    img = _img()
    a = RandColorJitter().set_random_state(42)(img)
    b = RandColorJitter().set_random_state(42)(img)
    c = RandColorJitter().set_random_state(43)(img)
    assert torch.equal(a, b) and not torch.equal(a, c)
    j = RandColorJitter().set_random_state(7)
    seq1 = [j(img) for _ in range(3)]
    j.set_random_state(7)
    seq2 = [j(img) for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(seq1, seq2))


def test_functional_ops_match_formulas():
    img = _img()
    x = img.numpy().astype(np.float64)
    gray = np.tensordot(GRAY_W, x, axes=1)
    np.testing.assert_allclose(rgb_to_grayscale(img)[0].numpy(), gray, atol=1e-6)
    np.testing.assert_allclose(adjust_brightness(img, 1.3).numpy(), np.clip(1.3 * x, 0, 1), atol=1e-6)
    np.testing.assert_allclose(
        adjust_contrast(img, 0.7).numpy(), np.clip(0.7 * x + 0.3 * gray.mean(), 0, 1), atol=1e-6
    )
    np.testing.assert_allclose(adjust_saturation(img, 1.4).numpy(), np.clip(1.4 * x - 0.4 * gray, 0, 1), atol=1e-6)


def test_hue_matches_colorsys():
    img = _img(h=6, w=7, seed=5)
    shift = 0.13
    out = adjust_hue(img, shift).numpy()
    x = img.numpy()
    for i in range(6):
        for j in range(7):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
            expected = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
            np.testing.assert_allclose(out[:, i, j], expected, atol=1e-5)
    # round trip and batch support
    batch = torch.rand(2, 3, 9, 9)
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(batch)), batch, atol=1e-5, rtol=0)
    torch.testing.assert_close(adjust_hue(img, 0.0), img, atol=1e-5, rtol=0)


def test_one_channel_only_brightness_and_contrast():
    img = _img(c=1)
    # saturation, hue and grayscale are identities on one channel
    assert torch.equal(RandColorJitter(0, 0, 0.9, 0.4, grayscale_prob=1.0).set_random_state(0)(img), img)
    out = RandColorJitter(0.5, 0.5, 0, 0, grayscale_prob=0.0).set_random_state(0)(img)
    assert out.shape == (1, 16, 20) and not torch.equal(out, img)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_random_order_and_fixed_order():
    params = ColorJitterParams((3, 2, 1, 0), 1.2, 0.8, 1.1, 0.05, False)
    img = _img()
    expected = adjust_brightness(adjust_contrast(adjust_saturation(adjust_hue(img, 0.05), 1.1), 0.8), 1.2)
    torch.testing.assert_close(RandColorJitter.apply(img, params), expected)
    j = RandColorJitter(random_order=False).set_random_state(0)
    j.randomize()
    assert j.params.order == (0, 1, 2, 3)
    orders = set()
    j = RandColorJitter().set_random_state(0)
    for _ in range(50):
        j.randomize()
        orders.add(j.params.order)
    assert len(orders) > 10


def test_factor_ranges():
    j = RandColorJitter(brightness=0.4, contrast=(0.5, 0.6), saturation=0.0, hue=0.02).set_random_state(0)
    for _ in range(100):
        j.randomize()
        p = j.params
        assert 0.6 <= p.brightness <= 1.4 and 0.5 <= p.contrast <= 0.6
        assert p.saturation is None and -0.02 <= p.hue <= 0.02
    with pytest.raises(ValueError):
        RandColorJitter(hue=0.6)
    with pytest.raises(ValueError):
        RandColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        RandColorJitter()(torch.rand(4, 8, 8))


def test_dict_twin_same_draw_for_all_keys():
    img = _img()
    d = RandColorJitterd(keys=["a", "b", "absent"], allow_missing_keys=True).set_random_state(11)
    out = d({"a": img, "b": img.clone()})
    assert torch.equal(out["a"], out["b"]) and not torch.equal(out["a"], img)
    out2 = RandColorJitterd(keys=["a", "b"]).set_random_state(11)({"a": img, "b": img})
    assert torch.equal(out["a"], out2["a"])
    skipped = RandColorJitterd(keys="a", prob=0.0)({"a": img})
    assert torch.equal(skipped["a"], img)
