# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.metrics.position_leakage."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ld_monai.metrics import field_of_view_foreground, polar_fourier_features, position_leakage, xy_fourier_features

H = W = 48


def _grid(h: int = H, w: int = W) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.linspace(0, 1, h)[:, None].expand(h, w)
    cols = torch.linspace(0, 1, w)[None, :].expand(h, w)
    return rows, cols


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-3, keepdim=True)


def _xy_code(b: int = 4) -> torch.Tensor:
    """A smooth, non-periodic function of (row, col), the same in every image, L2-normalised like LD's z."""
    r, c = _grid()
    bump = torch.exp(-8 * ((r - 0.3) ** 2 + (c - 0.6) ** 2))
    code = torch.stack([1 + r, c, r * c, torch.sin(5 * r), torch.cos(4 * c + 1), bump])
    return _unit(code)[None].expand(b, -1, -1, -1).contiguous()


def _radial(h: int, w: int, centre: tuple[float, float]) -> torch.Tensor:
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    rho = torch.hypot(rows - centre[0], cols - centre[1]) / (0.5 * math.hypot(h, w))
    return _unit(torch.stack([torch.cos(6 * rho), torch.sin(6 * rho), 1 + rho**2, torch.exp(-4 * rho)]))


def _smooth_fields(b: int, d: int, seed: int = 0, h: int = H, w: int = W) -> torch.Tensor:
    """Independent random smooth fields per image: content at positions unrelated to the view."""
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.randn(b, d, h, w, generator=g), 7, stride=1, padding=3, count_include_pad=False)


def test_encodings_shapes_and_constant():
    rows, cols = torch.rand(10), torch.rand(10)
    xy = xy_fourier_features(rows, cols, 4)
    assert xy.shape == (10, 81) and xy.dtype == torch.float64 and torch.all(xy[:, 0] == 1)
    polar = polar_fourier_features(torch.rand(10), torch.rand(10) * 6, 4)
    assert polar.shape == (10, 45) and torch.all(polar[:, 0] == 1)
    # half-cycle unit: the left and right borders get different codes (whole cycles would make them equal)
    left = xy_fourier_features(torch.tensor([0.5]), torch.tensor([0.0]), 1)
    right = xy_fourier_features(torch.tensor([0.5]), torch.tensor([1.0]), 1)
    assert not torch.allclose(left, right)


def test_pure_position_code_xy_near_one():
    result = position_leakage(_xy_code())
    assert set(result) >= {"xy", "polar"}
    assert result["xy"] > 0.95
    assert isinstance(result["xy"], float) and isinstance(result["polar"], float)


def test_radial_code_polar_near_one():
    code = _radial(H, W, ((H - 1) / 2, (W - 1) / 2))[None].expand(4, -1, -1, -1)
    result = position_leakage(code)
    assert result["polar"] > 0.95
    assert result["xy"] > 0.9  # a smooth radial code is also a smooth function of (row, col)


def test_explicit_centres_follow_the_field_of_view():
    centres = torch.tensor([[20.0, 20.0], [28.0, 24.0], [22.0, 30.0], [26.0, 18.0]])
    code = torch.stack([_radial(H, W, tuple(c.tolist())) for c in centres])
    with_centres = position_leakage(code, centres=centres)["polar"]
    about_view_centre = position_leakage(code)["polar"]
    assert with_centres > 0.95
    assert about_view_centre < with_centres - 0.2


def test_content_only_embedding_near_zero():
    fields = _smooth_fields(8, 16)
    result = position_leakage(fields)
    assert -0.3 < result["xy"] < 0.1 and -0.3 < result["polar"] < 0.1
    # the same pattern shifted to a different place in each image (content that moves with the image)
    big = _smooth_fields(1, 8, seed=3, h=3 * H, w=3 * W)[0]
    shifts = [(0, 0), (40, 10), (13, 77), (90, 50), (60, 95), (25, 40)]
    shifted = torch.stack([big[:, r : r + H, c : c + W] for r, c in shifts])
    result = position_leakage(shifted)
    assert result["xy"] < 0.1 and result["polar"] < 0.1


def test_known_mixture_of_position_and_content():
    # embedding = position code + independent per-pixel content of equal total variance -> R² ~ 1/2
    b = 6
    code = _xy_code(b).double()
    code = code - code.mean(dim=(0, 2, 3), keepdim=True)
    var_code = code[0].square().sum(0).mean()
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(b, 6, H, W, generator=g, dtype=torch.float64) * (var_code / 6).sqrt()
    result = position_leakage(code + noise)
    assert result["xy"] == pytest.approx(0.5, abs=0.05)


def test_orthogonal_invariance_and_reproducibility():
    emb = _smooth_fields(4, 8, seed=2) + _xy_code(4).repeat(1, 2, 1, 1)[:, :8]
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    rotated = torch.einsum("ed,bdhw->behw", q, emb.double())
    a = position_leakage(emb, max_pixels_per_image=500)
    b = position_leakage(rotated, max_pixels_per_image=500)
    assert a["xy"] == pytest.approx(b["xy"], abs=1e-6) and a["polar"] == pytest.approx(b["polar"], abs=1e-6)
    assert position_leakage(emb, max_pixels_per_image=500) == a  # deterministic pixel subsample
    assert 0.2 < a["xy"] < 0.95  # partly position, partly content


def test_foreground_masking_respected():
    b = 4
    rows = torch.arange(H, dtype=torch.float32)[:, None]
    cols = torch.arange(W, dtype=torch.float32)[None, :]
    disk = (torch.hypot(rows - 23.5, cols - 23.5) < 18)[None].expand(b, H, W)
    content = _smooth_fields(b, 6, seed=4)
    # outside the disk: a strong position code; inside: content only
    emb = torch.where(disk[:, None], content, 10 * _xy_code(b))
    assert position_leakage(emb)["xy"] > 0.5
    inside = position_leakage(emb, foreground=disk)
    assert inside["xy"] < 0.1 and inside["polar"] < 0.1
    # values outside the foreground do not matter at all
    other = torch.where(disk[:, None], content, torch.full_like(emb, 1e3))
    assert position_leakage(other, foreground=disk) == inside


def test_field_of_view_foreground():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    raw = torch.zeros(2, 3, 32, 32)
    raw[:, 0, 4:28, 4:28] = 0.6  # a bright square on black
    raw[1, :, :, :] = 0.5  # second image: bright everywhere
    images = (raw - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    fg = field_of_view_foreground(images, threshold=0.04, mean=mean, std=std, erosion=2)
    assert fg.shape == (2, 32, 32) and fg.dtype == torch.bool
    assert fg[0].sum() == 20 * 20 and fg[0, 6:26, 6:26].all()  # eroded by 2 px
    assert fg[1].all()  # the view border itself is not eroded
    assert field_of_view_foreground(images, mean=mean, std=std, erosion=0)[0].sum() == 24 * 24


def test_errors():
    code = _xy_code(2)
    with pytest.raises(ValueError, match="at least 2 images"):
        position_leakage(code[:1])
    with pytest.raises(ValueError, match=r"\(B, D, H, W\)"):
        position_leakage(code[0])
    with pytest.raises(ValueError, match="foreground"):
        position_leakage(code, foreground=torch.ones(2, H, W + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="centres"):
        position_leakage(code, centres=torch.zeros(3, 2))
    bad = code.clone()
    bad[1, 0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match=r"NaN.*\[1\]"):
        position_leakage(bad)
    empty = torch.ones(2, H, W, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(ValueError, match="image 1 is empty"):
        position_leakage(code, foreground=empty)
    # a constant embedding has nothing to explain
    assert all(math.isnan(v) for v in position_leakage(torch.ones(3, 4, 8, 8)).values())
