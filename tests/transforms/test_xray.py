# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the radiograph intensity normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import XRayIntensityNormalize, XRayIntensityNormalized


def _radiograph(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.normal(2000.0, 300.0, size=(1, 64, 80)).astype(np.float32)
    img[0, :2, :2] = 40000.0  # outliers (burnt-in marker)
    img[0, -1, -3:] = -5000.0
    return img


def test_range_and_percentiles():
    img = _radiograph()
    out = XRayIntensityNormalize()(img)
    assert out.dtype == torch.float32 and tuple(out.shape) == (1, 64, 80)
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0
    lo, hi = np.percentile(img, [0.5, 99.5])
    expected = np.clip((img - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    # outliers are clipped, not used as the scale
    assert float((out > 0.999).float().mean()) < 0.02
    assert 0.3 < float(out.mean()) < 0.7


def test_custom_percentiles_and_monotonic():
    img = np.linspace(0, 99, 100, dtype=np.float32).reshape(1, 10, 10)
    out = XRayIntensityNormalize(lower=10, upper=90)(img).numpy().ravel()
    np.testing.assert_allclose(out, np.clip((np.arange(100) - 9.9) / (89.1 - 9.9), 0, 1), atol=1e-5)
    assert np.all(np.diff(out) >= 0)


def test_invert():
    img = _radiograph(1)
    out = XRayIntensityNormalize()(img)
    inv = XRayIntensityNormalize(invert=True)(img)
    torch.testing.assert_close(inv, 1.0 - out)
    flat_img, flat_inv = img.ravel(), inv.numpy().ravel()
    assert flat_inv[flat_img.argmax()] == 0.0 and flat_inv[flat_img.argmin()] == 1.0


def test_constant_image_gives_zeros():
    out = XRayIntensityNormalize()(np.full((1, 16, 16), 7.0, dtype=np.float32))
    assert torch.equal(out, torch.zeros(1, 16, 16))
    assert not torch.isnan(XRayIntensityNormalize(invert=True)(torch.ones(1, 8, 8))).any()


def test_integer_input_and_metatensor():
    img = MetaTensor(torch.randint(0, 4096, (1, 32, 32), dtype=torch.int16), meta={"filename_or_obj": "a.dcm"})
    out = XRayIntensityNormalize()(img)
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "a.dcm"
    assert out.dtype == torch.float32 and 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_rgb_reduced_to_luminance():
    gray = torch.rand(1, 20, 20) * 255
    rgb = gray.expand(3, -1, -1)
    torch.testing.assert_close(XRayIntensityNormalize()(rgb), XRayIntensityNormalize()(gray), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="expected a channel-first"):
        XRayIntensityNormalize()(torch.rand(2, 8, 8))


def test_nan_raises_with_filename():
    img = torch.rand(1, 8, 8)
    img[0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"cxr_001\.png.*NaN"):
        XRayIntensityNormalize()(MetaTensor(img, meta={"filename_or_obj": "cxr_001.png"}))


def test_dict_twin():
    data = {"image": _radiograph(2), "other": 5}
    out = XRayIntensityNormalized(keys=["image", "missing"], invert=True, allow_missing_keys=True)(data)
    torch.testing.assert_close(out["image"], XRayIntensityNormalize(invert=True)(data["image"]))
    assert out["other"] == 5
    with pytest.raises(ValueError):
        XRayIntensityNormalize(lower=60, upper=40)
