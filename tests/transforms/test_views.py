# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the two-image five-view sampler of LD stage 1 (method spec A4.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.transforms import Compose

from ld_monai.transforms import IMAGENET_MEAN, IMAGENET_STD, LocalDiscriminationViewsd, LocalDiscriminationViewsD

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _pair(c=3, h=80, w=90, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"image1": torch.rand(c, h, w, generator=g), "image2": torch.rand(c, h + 6, w - 4, generator=g)}


def _smooth(c=3, h=64, w=64, seed=0):
    """A smooth (low-frequency) image in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(1, c, 6, 6, generator=g), size=(h, w), mode="bicubic").clamp(0, 1)[0]


def test_default_shapes_dtypes_and_keys():
    g = torch.Generator().manual_seed(0)
    data = {"image1": torch.rand(3, 512, 512, generator=g), "image2": torch.rand(3, 520, 500, generator=g), "id": 3}
    out = LocalDiscriminationViewsd().set_random_state(0)(data)
    views, k, lam = out["views"], out["rotation_k"], out["mix_lambda"]
    assert views.shape == (5, 3, 448, 448) and views.dtype == torch.float32
    assert k.shape == (2,) and k.dtype == torch.int64 and bool(((k >= 0) & (k <= 3)).all())
    assert lam.shape == () and lam.dtype == torch.float32 and 0.2 <= float(lam) <= 0.8
    assert "image1" not in out and "image2" not in out and out["id"] == 3
    raw = views * STD + MEAN  # undo the ImageNet normalisation: back in [0, 1]
    assert float(raw.min()) >= -1e-5 and float(raw.max()) <= 1 + 1e-5
    kept = LocalDiscriminationViewsD(keep_inputs=True, views_key="v", rotation_key="r", lambda_key="l")(data)
    assert kept["image1"] is data["image1"] and {"v", "r", "l"} <= set(kept)


def test_determinism_under_set_random_state():
    data = _pair()
    a = LocalDiscriminationViewsd(spatial_size=64).set_random_state(123)(data)
    b = LocalDiscriminationViewsd(spatial_size=64).set_random_state(123)(data)
    c = LocalDiscriminationViewsd(spatial_size=64).set_random_state(124)(data)
    for key in ("views", "rotation_k", "mix_lambda"):
        assert torch.equal(a[key], b[key])
    assert not torch.equal(a["views"], c["views"])
    # a sequence of calls replays after re-seeding; Compose propagates seeds
    t = LocalDiscriminationViewsd(spatial_size=64)
    first = [t.set_random_state(5)(data)["views"], t(data)["views"]]
    second = [t.set_random_state(5)(data)["views"], t(data)["views"]]
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], first[1])
    comp = [Compose([LocalDiscriminationViewsd(spatial_size=64)]).set_random_state(9)(data)["views"] for _ in "ab"]
    assert torch.equal(comp[0], comp[1])


@pytest.mark.parametrize("seed", range(6))
def test_rotation_realignment_is_exact(seed):
    t = LocalDiscriminationViewsd(
        spatial_size=64, view_rotate_range=0.0, color_jitter=(0, 0, 0, 0), grayscale_prob=0.0
    ).set_random_state(seed)
    out = t(_pair(seed=seed))
    views, k = out["views"], out["rotation_k"]
    for i in range(2):  # view2 of image i is view1 of image i rotated by exactly k_i * 90 degrees
        assert torch.equal(torch.rot90(views[2 + i], -int(k[i]), dims=(-2, -1)), views[i])
    assert t.rotations == [int(x) for x in k]


@pytest.mark.parametrize("seed", range(6))
def test_mirror_realignment_is_exact(seed):
    t = LocalDiscriminationViewsd(
        spatial_size=64, view_rotate_range=0.0, color_jitter=(0, 0, 0, 0), grayscale_prob=0.0, mirror=True
    ).set_random_state(seed)
    out = t(_pair(seed=seed))
    views, code = out["views"], out["rotation_k"]
    for i in range(2):  # view2 is view1 mirrored left-right (code >= 4), then turned by (code % 4) quarter turns
        unturned = torch.rot90(views[2 + i], -(int(code[i]) % 4), dims=(-2, -1))
        assert torch.equal(unturned.flip(-1) if code[i] >= 4 else unturned, views[i])


def test_mirror_codes_cover_the_dihedral_group():
    t = LocalDiscriminationViewsd(spatial_size=16, color_jitter=(0, 0, 0, 0), mirror=True).set_random_state(0)
    codes = []
    for _ in range(400):
        t.randomize([(20, 20), (20, 20)])
        codes += t.rotations
    assert np.bincount(codes, minlength=8).min() > 60  # ~100 each of the 8 turns and mirrored turns


def test_independent_crops_are_recorded_and_sampled_per_view():
    img = _smooth(h=64, w=64)
    t = LocalDiscriminationViewsd(  # 32 x 32 crops of a 64 x 64 image at output size 32: no resampling
        spatial_size=32, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), rotate_range=0.0, view_rotate_range=0.0,
        color_jitter=(0, 0, 0, 0), grayscale_prob=0.0, mean=0.0, std=1.0, independent_crops=True,
    )
    out = t.set_random_state(4)({"image1": img, "image2": img})
    boxes, views, code = out["crop_boxes"], out["views"], out["rotation_k"]
    assert boxes.shape == (2, 2, 4) and not torch.equal(boxes[0, 0], boxes[0, 1])
    for i in range(2):  # each second view is exactly the crop of its own box of the flipped image
        p = t.base_params[i]
        top, left, h, w = (int(v) for v in boxes[i, 1])
        crop = img
        if p["hflip"]:
            crop = crop.flip(-1)
        if p["vflip"]:
            crop = crop.flip(-2)
        assert (h, w) == (32, 32)
        expected = crop[:, top: top + h, left: left + w]
        second = torch.rot90(views[2 + i], -int(code[i]), dims=(-2, -1))
        torch.testing.assert_close(second, expected, atol=1e-5, rtol=0)
    shared = LocalDiscriminationViewsd(spatial_size=32).set_random_state(4)({"image1": img, "image2": img})
    assert torch.equal(shared["crop_boxes"][:, 0], shared["crop_boxes"][:, 1])


def test_rotation_distribution():
    t = LocalDiscriminationViewsd(spatial_size=16, color_jitter=(0, 0, 0, 0)).set_random_state(0)
    ks, lams = [], []
    for _ in range(200):
        t.randomize([(20, 20), (20, 20)])
        ks += t.rotations
        lams.append(t.mix_lambda)
    counts = np.bincount(ks, minlength=4)
    assert counts.min() > 60  # ~100 each
    assert 0.2 <= min(lams) and max(lams) <= 0.8 and np.std(lams) > 0.1


def test_mix_is_lambda_blend_of_first_views():
    t = LocalDiscriminationViewsd(spatial_size=64).set_random_state(3)  # full T1 incl. colour jitter
    out = t(_pair())
    raw = out["views"] * STD + MEAN
    lam = float(out["mix_lambda"])
    torch.testing.assert_close(raw[4], lam * raw[0] + (1 - lam) * raw[1], atol=2e-6, rtol=0)
    assert not torch.allclose(raw[0], raw[1])


def test_views_differ_with_full_augmentation():
    out = LocalDiscriminationViewsd(spatial_size=64).set_random_state(1)(_pair())
    v, k = out["views"], out["rotation_k"]
    assert not torch.equal(torch.rot90(v[2], -int(k[0]), dims=(-2, -1)), v[0])  # T1 is drawn per view


def test_geometry_identity_and_flips():
    img = _smooth(h=48, w=48)
    t = LocalDiscriminationViewsd(
        spatial_size=48,
        crop_scale=(1.0, 1.0),
        crop_ratio=(1.0, 1.0),
        rotate_range=0.0,
        view_rotate_range=0.0,
        color_jitter=(0, 0, 0, 0),
        grayscale_prob=0.0,
        mean=0.0,
        std=1.0,
    )
    seen = set()
    for seed in range(12):
        v0 = t.set_random_state(seed)({"image1": img, "image2": img})["views"][0]
        p = t.base_params[0]
        expected = img.flip(-1) if p["hflip"] else img
        expected = expected.flip(-2) if p["vflip"] else expected
        torch.testing.assert_close(v0, expected, atol=1e-5, rtol=0)
        seen.add((p["hflip"], p["vflip"]))
    assert len(seen) == 4


def test_geometry_rotation_and_crop():
    img = _smooth(h=40, w=40)
    t = LocalDiscriminationViewsd(spatial_size=40)
    p = {"hflip": False, "vflip": False, "angle": math.pi / 2, "crop": (0, 0, 40, 40), "size": (40, 40)}
    out = t._sample_views(img, p, [0.0])[0]
    rots = [torch.rot90(img, k, dims=(-2, -1)) for k in (1, 3)]
    assert min(float((out - r).abs().max()) for r in rots) < 1e-4
    # a crop resized bilinearly (half-pixel centres, like F.interpolate / torchvision)
    t = LocalDiscriminationViewsd(spatial_size=10)
    p = {"hflip": False, "vflip": False, "angle": 0.0, "crop": (4, 6, 12, 11), "size": (40, 40)}
    out = t._sample_views(img, p, [0.0])[0]
    ref = F.interpolate(img[None, :, 4:16, 6:17], size=(10, 10), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # a large shrink is antialiased first (as PIL's resize would be)
    p = {"hflip": False, "vflip": False, "angle": 0.0, "crop": (0, 0, 40, 40), "size": (40, 40)}
    out = t._sample_views(img, p, [0.0])[0]
    ref = F.interpolate(img[None], size=(10, 10), mode="bilinear", align_corners=False, antialias=True)[0]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_view_rotation_matches_sequential_rotation():
    """The T1 rotation is composed into the T0 sampling; it must equal rotating the T0 view afterwards."""
    img, ones = _smooth(h=64, w=64, seed=2), torch.ones(3, 64, 64)
    t = LocalDiscriminationViewsd(spatial_size=64)
    angle = 0.2
    theta = torch.tensor([[[math.cos(angle), math.sin(angle), 0.0], [-math.sin(angle), math.cos(angle), 0.0]]])
    grid = F.affine_grid(theta, [1, 3, 64, 64], align_corners=False)

    def both(x, p):
        sequential = F.grid_sample(t._sample_views(x, p, [0.0]), grid, align_corners=False)  # bilinear, zeros
        return t._sample_views(x, p, [angle]), sequential

    # no black border in the T0 view: equal up to float error, including the zero-padded corners
    p = {"hflip": False, "vflip": True, "angle": 0.0, "crop": (0, 0, 64, 64), "size": (64, 64)}
    composed, sequential = both(img, p)
    assert float((composed - sequential).abs().max()) < 1e-4
    assert float(composed[0, :, 0, 0].abs().max()) == 0.0
    # T0 with its own rotation border: one interpolation vs two, equal away from that sharp border
    p = {"hflip": True, "vflip": False, "angle": 0.3, "crop": (2, 3, 60, 58), "size": (64, 64)}
    composed, sequential = both(img, p)
    mask_c, mask_s = both(ones, p)
    interior = (mask_c[0, 0] > 0.999) & (mask_s[0, 0] > 0.999)
    assert interior.float().mean() > 0.8
    assert float((composed - sequential).abs()[0][:, interior].max()) < 0.03
    torch.testing.assert_close(mask_c, mask_s, atol=0.2, rtol=0)  # same support


def test_crop_parameters_follow_random_resized_crop():
    t = LocalDiscriminationViewsd(spatial_size=32).set_random_state(0)
    for _ in range(300):
        top, left, h, w = t._crop_params(100, 120)
        assert 0 <= top and top + h <= 100 and 0 <= left and left + w <= 120
        assert 0.9 * 12000 * 0.97 <= h * w <= 12000
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1


def test_one_channel_input():
    g = torch.Generator().manual_seed(0)
    data = {"image1": torch.rand(1, 70, 70, generator=g), "image2": torch.rand(1, 72, 75, generator=g)}
    out = LocalDiscriminationViewsd(spatial_size=64, mean=0.5, std=0.5).set_random_state(0)(data)
    assert out["views"].shape == (5, 1, 64, 64)
    assert float(out["views"].min()) >= -1 - 1e-5 and float(out["views"].max()) <= 1 + 1e-5
    with pytest.raises(ValueError, match="mean has 3 values but the images have 1 channel"):
        LocalDiscriminationViewsd(spatial_size=64)(data)


def test_small_image_raises_with_filename_and_sizes():
    data = _pair()
    data["image2"] = MetaTensor(torch.rand(3, 50, 100), meta={"filename_or_obj": "tiny_fundus.png"})
    with pytest.raises(ValueError) as err:
        LocalDiscriminationViewsd(spatial_size=64)(data)
    msg = str(err.value)
    assert "tiny_fundus.png" in msg and "(50, 100)" in msg and "(64, 64)" in msg


def test_bad_inputs_raise():
    data = _pair()
    with pytest.raises(ValueError, match="same channel count"):
        LocalDiscriminationViewsd(spatial_size=64)({"image1": data["image1"], "image2": data["image2"][:1]})
    bright = MetaTensor(data["image1"] * 255, meta={"filename_or_obj": "raw.png"})
    with pytest.raises(ValueError, match=r"raw\.png.*\[0, 1\]"):
        LocalDiscriminationViewsd(spatial_size=64)({"image1": bright, "image2": data["image2"]})
    with pytest.raises(KeyError):
        LocalDiscriminationViewsd(spatial_size=64)({"image1": data["image1"]})
    partial = {"image1": data["image1"]}
    assert LocalDiscriminationViewsd(spatial_size=64, allow_missing_keys=True)(partial) == partial
    with pytest.raises(ValueError):
        LocalDiscriminationViewsd(keys=("a", "b", "c"))
