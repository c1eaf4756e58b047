# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Pseudo-labels of a shape-guided network (the refinement's label generator) on real radiographs and photographs:
written at each image's own size, the label where the probability passes 0.5, the certainty 1 - H(p)."""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from monai.transforms import Compose
from PIL import Image
from torch import nn

from ld_monai.apps.pseudo_labels import CERTAINTY_KEY, write_pseudo_labels
from ld_monai.transforms import segmentation_preprocessing


class LeftHalf(nn.Module):
    """Probability 0.9 in the left half of the network's input, 0.2 in the right half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.full((x.shape[0], 1, *x.shape[2:]), 0.2)
        p[..., : x.shape[-1] // 2] = 0.9
        return p


def certainty_byte(p: float) -> int:
    return round(255 * (1 + p * math.log2(p) + (1 - p) * math.log2(1 - p)))


def test_pseudo_labels_of_real_radiographs_at_their_own_size(data_dir, tmp_path):
    images = sorted((data_dir / "xray" / "cxr_lungs" / "images").glob("*.png"))[:3]
    preprocessing = Compose(segmentation_preprocessing("xray", image_size=64, image_resize="area"))
    path = write_pseudo_labels(LeftHalf(), {"training": [{"image": str(p)} for p in images[:2]],
                                            "validation": [{"image": str(images[2])}]},
                               preprocessing, tmp_path / "pseudo", "lung")
    datalist = json.loads(path.read_text())
    assert [len(datalist[s]) for s in ("training", "validation")] == [2, 1]
    for item in datalist["training"] + datalist["validation"]:
        width, height = Image.open(item["image"]).size
        label, certainty = (np.asarray(Image.open(item[key])) for key in ("lung", CERTAINTY_KEY))
        assert label.shape == certainty.shape == (height, width)
        assert set(np.unique(label)) == {0, 255}
        left, right = slice(None, width // 2 - 8), slice(width // 2 + 8, None)  # away from the interpolated border
        assert (label[:, left] == 255).all() and (label[:, right] == 0).all()
        assert np.abs(certainty[:, left].astype(int) - certainty_byte(0.9)).max() <= 1
        assert np.abs(certainty[:, right].astype(int) - certainty_byte(0.2)).max() <= 1


def test_pseudo_labels_of_photographs_are_mapped_back_through_the_field_of_view_crop(data_dir, tmp_path):
    image = data_dir / "fundus" / "DRIVE" / "training" / "images" / "21_training.tif"
    mask = Image.open(data_dir / "fundus" / "DRIVE" / "training" / "mask" / "21_training_mask.gif")
    field_of_view = np.asarray(mask.convert("L")) > 0
    preprocessing = Compose(segmentation_preprocessing("fundus", image_size=64, image_resize="area"))
    datalist = json.loads(write_pseudo_labels(LeftHalf(), {"training": [{"image": str(image)}]}, preprocessing,
                                              tmp_path, "vessel").read_text())
    item = datalist["training"][0]
    label, certainty = (np.asarray(Image.open(item[key])) for key in ("vessel", CERTAINTY_KEY))
    assert label.shape == field_of_view.shape
    columns = np.flatnonzero(field_of_view.any(axis=0))
    centre = (columns.min() + columns.max()) // 2  # the field-of-view crop is centred on the eye
    left, right = field_of_view.copy(), field_of_view.copy()
    left[:, centre - 16:], right[:, : centre + 16] = False, False
    assert (label[left] == 255).all() and (label[right] == 0).all()
    assert np.abs(certainty[left].astype(int) - certainty_byte(0.9)).max() <= 1
