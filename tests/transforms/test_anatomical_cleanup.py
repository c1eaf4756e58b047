# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Anatomical clean-up of binary structures on drawn masks with known answers: the largest components kept, holes
filled per channel, the cup kept inside its disc, nothing touched when nothing is asked."""

from __future__ import annotations

import pytest
import torch
from monai.transforms import Compose

from ld_monai.transforms import FillStructureHolesd, NestStructuresd, structure_cleanup


def lungs_with_flaws() -> torch.Tensor:
    """(1, 40, 40): two lungs (big, one with a hole), a small fragment outside them."""
    mask = torch.zeros(1, 40, 40)
    mask[0, 5:35, 3:15] = 1  # left lung, 360 px
    mask[0, 5:30, 22:36] = 1  # right lung, 350 px
    mask[0, 15:18, 8:11] = 0  # a hole inside the left lung
    mask[0, 36:39, 18:20] = 1  # a fragment below the lungs
    return mask


def test_two_lungs_kept_and_filled():
    cleaned = Compose(structure_cleanup(["lung"], {"lung": 2}, ["lung"]))({"pred": lungs_with_flaws()})["pred"]
    expected = torch.zeros(1, 40, 40)
    expected[0, 5:35, 3:15] = 1
    expected[0, 5:30, 22:36] = 1
    torch.testing.assert_close(cleaned, expected)


def test_holes_are_filled_per_channel_even_where_channels_overlap():
    disc_cup = torch.zeros(2, 30, 30)
    disc_cup[0, 5:25, 5:25] = 1
    disc_cup[0, 12:15, 12:15] = 0  # a hole in the disc, where the cup is
    disc_cup[1, 10:20, 10:20] = 1
    disc_cup[1, 14, 14] = 0  # a one-pixel hole in the cup
    filled = FillStructureHolesd("pred", [0, 1])({"pred": disc_cup})["pred"]
    assert filled[0, 5:25, 5:25].all() and filled[1, 10:20, 10:20].all()
    assert filled[0].sum() == 400 and filled[1].sum() == 100  # nothing outside


def test_cup_kept_inside_the_disc_only():
    disc_cup = torch.zeros(2, 30, 30)
    disc_cup[0, 5:20, 5:20] = 1
    disc_cup[1, 15:25, 15:25] = 1  # half the cup outside the disc
    nested = NestStructuresd("pred", inner=1, outer=0)({"pred": disc_cup})["pred"]
    assert nested[1].sum() == 25 and nested[1, 15:20, 15:20].all()
    torch.testing.assert_close(nested[0], disc_cup[0])
    with pytest.raises(ValueError, match="nested in itself"):
        NestStructuresd("pred", inner=0, outer=0)


def test_nothing_asked_nothing_changed_and_unknown_names_refused():
    assert structure_cleanup(["vessel"]) == []
    with pytest.raises(ValueError, match="'lungs'"):
        structure_cleanup(["lung"], {"lungs": 2})
