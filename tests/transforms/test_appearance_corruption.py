# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms.appearance_corruption import (
    RandBezierIntensity,
    RandLocalPixelShuffle,
    appearance_corruption,
    bezier_intensity_curve,
)


def pixels(image: torch.Tensor) -> list[tuple[float, ...]]:
    """The image's pixel vectors (all channels of a pixel together), sorted."""
    return sorted(map(tuple, image.reshape(image.shape[0], -1).T.tolist()))


def test_local_pixel_shuffle_moves_whole_pixels():
    """The pixel vectors are the image's own (the channels of a pixel move together), and some pixels move."""
    image = torch.rand(3, 60, 80)
    out = RandLocalPixelShuffle().set_random_state(0)(image)
    assert pixels(out) == pixels(image) and not torch.equal(out, image)


@pytest.mark.parametrize("seed", range(5))
def test_one_block_moves_pixels_within_a_tenth_of_a_side(seed):
    """With one block (up to 6 x 8 pixels of a 60 x 80 image) every moved pixel comes from that block."""
    image = torch.rand(3, 60, 80)
    out = RandLocalPixelShuffle(num_blocks=1).set_random_state(seed)(image)
    rows, columns = np.nonzero((out != image).any(0).numpy())
    if len(rows):
        assert rows.max() - rows.min() < 6 and columns.max() - columns.min() < 8
    assert pixels(out) == pixels(image)


def test_local_pixel_shuffle_of_a_constant_image_is_the_image():
    image = torch.full((1, 20, 20), 0.3)
    torch.testing.assert_close(RandLocalPixelShuffle().set_random_state(1)(image), image)


def test_bezier_curve_known_values():
    """With control points on the diagonal at 1/3 and 2/3 the cubic Bezier curve is the identity line, B(t) = t."""
    x, y = bezier_intensity_curve(np.array([[1 / 3, 1 / 3], [2 / 3, 2 / 3]]), samples=11)
    np.testing.assert_allclose(x, np.linspace(0, 1, 11))
    np.testing.assert_allclose(y, np.linspace(0, 1, 11))


@pytest.mark.parametrize("seed", range(6))
def test_bezier_intensity_is_one_monotone_map_of_0_1_onto_itself(seed):
    image = MetaTensor(torch.linspace(0, 1, 101).repeat(2, 3, 1))  # (2, 3, 101): every channel the same ramp
    out = RandBezierIntensity(prob=1.0).set_random_state(seed)(image)
    assert isinstance(out, MetaTensor) and out.shape == image.shape
    ramp = out[0, 0]
    assert torch.equal(out, ramp.expand_as(out))  # the same map for every pixel and channel
    steps = ramp.diff()
    assert bool((steps >= -1e-6).all()) or bool((steps <= 1e-6).all())  # monotone
    assert sorted([round(float(ramp[0]), 5), round(float(ramp[-1]), 5)]) == [0.0, 1.0]  # onto [0, 1]


def test_bezier_intensity_inverts_about_half_the_time():
    transform = RandBezierIntensity(prob=1.0).set_random_state(3)
    ramp = torch.linspace(0, 1, 11)[None, None]
    inverted = sum(float(transform(ramp)[0, 0, 0]) == 1.0 for _ in range(200))
    assert 70 < inverted < 130


def test_appearance_corruption_stays_in_range_and_repeats_with_the_seed():
    image = torch.rand(1, 64, 64)
    first = appearance_corruption(64).set_random_state(5)
    second = appearance_corruption(64).set_random_state(5)
    for _ in range(5):
        out = first(image)
        assert out.shape == image.shape and 0 <= out.min() and out.max() <= 1
        torch.testing.assert_close(out, second(image))
