# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms.short_side_resize import ShortSideResize, ShortSideResized


@pytest.mark.parametrize("shape, expected", [((1, 1024, 800), (778, 608)), ((3, 500, 1000), (608, 1216)),
                                             ((1, 300, 300), (608, 608))])
def test_the_short_side_gets_the_size_and_the_ratio_is_kept(shape, expected):
    assert ShortSideResize(608)(MetaTensor(torch.rand(*shape))).shape[1:] == expected


def test_the_longer_side_in_whole_cells():
    """1024 x 821 to a short side of 224 in 16-px cells: 279.4 rows rounded to 272 (17 cells), not cropped."""
    assert ShortSideResize(224, multiple_of=16)(MetaTensor(torch.rand(1, 1024, 821))).shape[1:] == (272, 224)
    with pytest.raises(ValueError, match="not a multiple of 16"):
        ShortSideResize(100, multiple_of=16)


def test_area_mode_averages_when_shrinking():
    """Halving a 2 x 2 checkerboard of 1-pixel cells by area averaging gives its mean everywhere."""
    image = torch.tensor([[0.0, 1.0] * 4, [1.0, 0.0] * 4] * 2)[None]  # (1, 4, 8)
    out = ShortSideResized("image", 2)({"image": MetaTensor(image)})["image"]
    assert out.shape == (1, 2, 4)
    torch.testing.assert_close(out.as_tensor(), torch.full((1, 2, 4), 0.5))


def test_clear_errors():
    with pytest.raises(ValueError, match="positive"):
        ShortSideResize(0)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        ShortSideResize(8)(torch.rand(1, 8, 8, 8))
