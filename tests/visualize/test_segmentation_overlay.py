# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import numpy as np
import pytest
import torch

from ld_monai.visualize import render_segmentation_overlay

GREEN, YELLOW, RED, BLUE, BLACK = (0, 255, 0), (255, 255, 0), (255, 0, 0), (0, 0, 255), (0, 0, 0)


def _masks():
    """2 structures on 4 x 4; structure 1 ("cup") lies inside structure 0 ("disc")."""
    pred = torch.zeros(2, 4, 4, dtype=torch.bool)
    label = torch.zeros(2, 4, 4, dtype=torch.bool)
    pred[0, 0, :3] = True  # disc predicted at (0,0) (0,1) (0,2)
    label[0, 0, 1:] = True  # disc label at (0,1) (0,2) (0,3) -> TP (0,1) (0,2), FP (0,0), FN (0,3)
    pred[1, 0, 2] = True  # cup TP at (0,2), drawn over the disc
    label[1, 0, 2] = True
    label[1, 2, 2] = True  # cup FN at (2,2)
    return pred, label


def test_error_colours_with_label():
    pred, label = _masks()
    out = render_segmentation_overlay(torch.zeros(1, 4, 4), pred, label, alpha=1.0)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == RED  # false positive
    assert tuple(out[0, 1]) == GREEN  # true positive of structure 0
    assert tuple(out[0, 2]) == YELLOW  # true positive of structure 1, over structure 0
    assert tuple(out[0, 3]) == BLUE  # false negative
    assert tuple(out[2, 2]) == BLUE
    assert tuple(out[3, 3]) == BLACK  # true negative: the image


def test_prediction_colours_blending_and_scaling():
    pred, _ = _masks()
    grey = torch.full((1, 4, 4), 0.4)
    out = render_segmentation_overlay(grey, pred, alpha=0.5).astype(int)
    assert np.abs(out[0, 0] - [51, 178, 51]).max() <= 1  # 0.5 * 0.4 + 0.5 * green
    assert np.abs(out[0, 2] - [178, 178, 51]).max() <= 1  # yellow (structure 1)
    assert np.abs(out[3, 3] - [102, 102, 102]).max() <= 1  # untouched grey
    assert np.abs(out[0, 3] - [102, 102, 102]).max() <= 1  # no label: the FN is not marked
    # any other range is min-max scaled; an RGB image keeps its colours
    ramp = torch.arange(16.0).view(1, 4, 4) * 100
    scaled = render_segmentation_overlay(ramp, torch.zeros(1, 4, 4))
    assert tuple(scaled[0, 0]) == BLACK and tuple(scaled[3, 3]) == (255, 255, 255)
    rgb = torch.zeros(3, 4, 4)
    rgb[2] = 1.0
    assert tuple(render_segmentation_overlay(rgb, torch.zeros(1, 4, 4))[1, 1]) == BLUE


def test_legend_and_errors():
    pred = torch.zeros(1, 64, 64)
    pred[0, 60:, 60:] = 1
    plain = render_segmentation_overlay(torch.zeros(1, 64, 64), pred, alpha=1.0)
    with_legend = render_segmentation_overlay(torch.zeros(1, 64, 64), pred, structure_names=["vessel"], alpha=1.0)
    assert (with_legend[:12, :40] != plain[:12, :40]).any()  # swatch and name in the corner
    assert tuple(with_legend[5, 6]) == GREEN  # the swatch of the first structure
    assert np.array_equal(with_legend[40:], plain[40:]) and tuple(with_legend[63, 63]) == GREEN
    with pytest.raises(ValueError, match="binary"):
        render_segmentation_overlay(torch.zeros(1, 4, 4), torch.full((1, 4, 4), 0.3))
    with pytest.raises(ValueError, match=r"image must have shape \(1, H, W\) or \(3, H, W\)"):
        render_segmentation_overlay(torch.zeros(2, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="structure names"):
        render_segmentation_overlay(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), structure_names=["a", "b"])
