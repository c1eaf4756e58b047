# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import itertools

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms.grid_crop_pair import RandGridCropPaird, grid_overlap_masks

CELL, VIEW, MAX_OFFSET = 4, 5, 4  # a small grid with the research code's offset range {0..4}


def cells(view: torch.Tensor) -> torch.Tensor:
    """(C, n*cell, n*cell) -> (n*n, C*cell*cell): each cell's pixels, cells row-major."""
    c, h, w = view.shape
    grid = view.reshape(c, h // CELL, CELL, w // CELL, CELL).permute(1, 3, 0, 2, 4)
    return grid.reshape((h // CELL) * (w // CELL), -1)


def crops_at(phase, offset1, offset2, image):
    crops = RandGridCropPaird("image", cell_size=CELL, view_cells=VIEW, max_offset=MAX_OFFSET)
    crops.randomize = lambda data=None: None  # the draw is set by hand
    crops.phase, crops.offsets = phase, (offset1, offset2)
    return crops({"image": image})


def unique_image(channels: int = 2) -> torch.Tensor:
    """Every pixel of every channel a different value, so that two cells are equal only if they are the same."""
    side = (VIEW + MAX_OFFSET) * CELL + CELL - 1
    return torch.arange(channels * side * side, dtype=torch.float64).reshape(channels, side, side)


@pytest.mark.parametrize("phase", [(0, 0), (3, 1), (CELL - 1, CELL - 1)])
def test_matched_tokens_are_the_same_pixels_for_every_offset_pair(phase):
    """All 625 offset pairs of {0..4}^4: the k-th matched cell of view 1 holds, pixel for pixel, the k-th matched
    cell of view 2, and the overlap has (n - |dr|)(n - |dc|) cells."""
    image = unique_image()
    for r1, c1, r2, c2 in itertools.product(range(MAX_OFFSET + 1), repeat=4):
        out = crops_at(phase, (r1, c1), (r2, c2), image)
        first, second = cells(out["view1"])[out["overlap1"]], cells(out["view2"])[out["overlap2"]]
        assert len(first) == (VIEW - abs(r1 - r2)) * (VIEW - abs(c1 - c2))
        assert torch.equal(first, second), (r1, c1, r2, c2)


def test_the_research_codes_transposed_masks_match_only_when_the_offsets_differ_equally():
    """The research code fills mask[column-range, row-range]: right for the 85 pairs with r1 - r2 == c1 - c2, wrong
    for the other 540 of 625 (86 %, method spec B4)."""
    image = unique_image(1)
    wrong = 0
    for r1, c1, r2, c2 in itertools.product(range(MAX_OFFSET + 1), repeat=4):
        out = crops_at((0, 0), (r1, c1), (r2, c2), image)
        transposed = [mask.reshape(VIEW, VIEW).T.flatten() for mask in (out["overlap1"], out["overlap2"])]
        same = torch.equal(cells(out["view1"])[transposed[0]], cells(out["view2"])[transposed[1]])
        assert same == (r1 - r2 == c1 - c2)
        wrong += not same
    assert wrong == 540


def test_overlap_masks_known_values():
    first, second = grid_overlap_masks((0, 1), (2, 0), 3)  # shared grid rows 2, columns 1-2
    assert first.reshape(3, 3).int().tolist() == [[0, 0, 0], [0, 0, 0], [1, 1, 0]]
    assert second.reshape(3, 3).int().tolist() == [[0, 1, 1], [0, 0, 0], [0, 0, 0]]
    apart = grid_overlap_masks((0, 0), (3, 0), 3)
    assert not apart[0].any() and not apart[1].any()


def test_draws_cover_the_ranges_and_repeat_with_the_seed():
    image = unique_image(1)
    crops = RandGridCropPaird("image", cell_size=CELL, view_cells=VIEW, max_offset=MAX_OFFSET).set_random_state(7)
    drawn = torch.stack([crops({"image": image})["grid_offsets"] for _ in range(400)])
    assert drawn.shape == (400, 3, 2)
    assert set(drawn[:, 0].flatten().tolist()) == set(range(CELL))
    assert set(drawn[:, 1:].flatten().tolist()) == set(range(MAX_OFFSET + 1))
    again = RandGridCropPaird("image", cell_size=CELL, view_cells=VIEW, max_offset=MAX_OFFSET).set_random_state(7)
    assert torch.equal(again({"image": image})["grid_offsets"], drawn[0])


def test_research_defaults_on_a_608_px_image_keep_the_crop_in_the_affine():
    image = MetaTensor(torch.rand(1, 608, 608), affine=torch.eye(4, dtype=torch.float64))
    out = RandGridCropPaird("image").set_random_state(0)({"image": image})
    assert "image" not in out and out["view1"].shape == out["view2"].shape == (1, 448, 448)
    assert out["overlap1"].sum() == out["overlap2"].sum() >= 100  # offsets of at most 4 of 14 cells
    (p_r, p_c), (r1, c1), _ = out["grid_offsets"].tolist()
    np.testing.assert_allclose(out["view1"].affine[:2, 3], [p_r + 32 * r1, p_c + 32 * c1])


def test_clear_errors():
    with pytest.raises(ValueError, match="needs at least 607 px"):
        RandGridCropPaird("image")({"image": torch.rand(1, 606, 700)})
    with pytest.raises(ValueError, match="one image key"):
        RandGridCropPaird(["image", "label"])
    with pytest.raises(ValueError, match="two views"):
        RandGridCropPaird("image", view_keys=("a",))


def test_views_are_copies_so_corrupting_one_leaves_the_other_and_the_image():
    image = unique_image(1)
    clean = image.clone()
    out = crops_at((0, 0), (0, 0), (1, 1), image)
    second = out["view2"].clone()
    out["view1"].fill_(-1.0)  # as an in-place corruption would
    assert torch.equal(out["view2"], second) and torch.equal(image, clean)
