# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.transforms.FundusFillOutsideFieldOfView: the FOV edge disappears, the retina is untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import FundusFillOutsideFieldOfView, FundusFillOutsideFieldOfViewd


def disc_on_black(size=64, radius=26, colour=(0.8, 0.3, 0.1)):
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius**2
    image = np.zeros((3, size, size), np.float32)
    image[:, inside] = np.asarray(colour, np.float32)[:, None]
    return torch.from_numpy(image), torch.from_numpy(inside)


def test_a_uniform_retina_fills_the_whole_image_with_its_colour():
    image, _ = disc_on_black()
    out = FundusFillOutsideFieldOfView()(image)
    torch.testing.assert_close(out, torch.tensor([0.8, 0.3, 0.1]).reshape(3, 1, 1).expand_as(image))


def test_the_field_of_view_is_untouched_and_the_surround_takes_its_border_colours():
    image, inside = disc_on_black()
    g = torch.Generator().manual_seed(0)
    image = image * (0.5 + torch.rand(1, 64, 64, generator=g)) * inside  # a textured retina
    filler = FundusFillOutsideFieldOfView(erosion=2, sigma=0.0)
    out = filler(image)
    fov = torch.from_numpy(filler.field_of_view(image.numpy()))
    assert torch.equal(out[:, fov], image[:, fov])
    assert (out[:, ~inside] > 0.01).any(dim=0).all()  # no black left
    lo, hi = image[:, fov].amin(dim=1), image[:, fov].amax(dim=1)  # nearest-pixel fill: values of the retina
    assert ((out >= lo[:, None, None] - 1e-6) & (out <= hi[:, None, None] + 1e-6)).all()


def test_types_and_the_dictionary_version():
    image, _ = disc_on_black()
    meta = MetaTensor(image * 255, meta={"filename_or_obj": "eye.png"})
    out = FundusFillOutsideFieldOfViewd("image", value_scale=255.0)({"image": meta})["image"]
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "eye.png"
    assert out.dtype == torch.float32 and float(out.min()) > 0
    black = torch.zeros(3, 8, 8)
    assert torch.equal(FundusFillOutsideFieldOfView()(black), black)  # no field of view: unchanged
    with pytest.raises(ValueError, match="channel-first"):
        FundusFillOutsideFieldOfView()(torch.zeros(8, 8))
