# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the channel-count checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import EnsureChannels, EnsureChannelsd


def _mt(x, name="scan_7.png"):
    return MetaTensor(x, meta={"filename_or_obj": name})


def test_matching_count_unchanged():
    img = _mt(torch.rand(3, 8, 9))
    out = EnsureChannels(3)(img)
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "scan_7.png"
    assert torch.equal(out, img)
    gray = torch.rand(1, 4, 4)
    assert torch.equal(EnsureChannels(1)(gray), gray)


def test_rgba_drops_alpha():
    img = torch.rand(4, 8, 8)
    out = EnsureChannels(3)(_mt(img))
    assert tuple(out.shape) == (3, 8, 8) and torch.equal(out.as_tensor(), img[:3])
    assert out.meta["filename_or_obj"] == "scan_7.png"


def test_identical_rgb_collapses():
    gray = torch.rand(1, 8, 8)
    out = EnsureChannels(1)(gray.repeat(3, 1, 1))
    assert tuple(out.shape) == (1, 8, 8) and torch.equal(out, gray)
    # numpy input and RGBA with identical RGB
    rgba = np.concatenate([gray.numpy().repeat(3, 0), np.ones((1, 8, 8), np.float32)])
    assert torch.equal(EnsureChannels(1)(rgba), gray)


def test_colour_rgb_to_one_channel_raises():
    with pytest.raises(ValueError, match=r"scan_7\.png.*expected 1 channel, found 3"):
        EnsureChannels(1)(_mt(torch.rand(3, 8, 8)))
    gray3 = torch.rand(1, 8, 8).repeat(3, 1, 1)
    with pytest.raises(ValueError, match="collapse_identical_rgb=False"):
        EnsureChannels(1, collapse_identical_rgb=False)(_mt(gray3))


def test_gray_to_rgb_is_refused():
    with pytest.raises(ValueError, match=r"scan_7\.png.*expected 3 channels.*found 1.*fake colour"):
        EnsureChannels(3)(_mt(torch.rand(1, 8, 8)))


@pytest.mark.parametrize("found,want", [(2, 1), (2, 3), (5, 3), (6, 1)])
def test_other_mismatch_names_file_and_counts(found, want):
    with pytest.raises(ValueError) as err:
        EnsureChannels(want)(_mt(torch.rand(found, 4, 4), name="/data/img_42.tif"))
    msg = str(err.value)
    assert "/data/img_42.tif" in msg and f"expected {want}" in msg and f"found {found}" in msg


def test_bad_arguments_and_shapes():
    with pytest.raises(ValueError):
        EnsureChannels(2)
    with pytest.raises(ValueError, match=r"scan_7\.png"):
        EnsureChannels(1)(_mt(torch.rand(8, 8)))
    with pytest.raises(ValueError, match="<unknown file>"):
        EnsureChannels(3)(torch.rand(1, 4, 4))


def test_dict_twin():
    data = {"image": _mt(torch.rand(4, 6, 6)), "label": torch.ones(1, 6, 6)}
    out = EnsureChannelsd(keys=["image", "absent"], num_channels=3, allow_missing_keys=True)(data)
    assert tuple(out["image"].shape) == (3, 6, 6) and out["label"] is data["label"]
    with pytest.raises(ValueError, match=r"scan_7\.png"):
        EnsureChannelsd(keys="image", num_channels=1)(data)
