# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The square around a structure: known corners, padding past the border, the training crop and its presets."""

from __future__ import annotations

import pytest
import torch

from ld_monai.transforms import RandCropAroundStructured, crop_square, square_around, structure_crop_augmentation


def test_square_is_centred_on_the_bounding_box():
    mask = torch.zeros(20, 30, dtype=torch.bool)
    mask[4:9, 10:21] = True  # bounding box centre (6, 15)
    assert square_around(mask, 5) == (4, 13)  # rows 4-8, columns 13-17: centre (6, 15)
    assert square_around(mask, 4) == (5, 14)  # even side: centre 6.5 -> rounds to the lower-right
    assert square_around(torch.zeros(20, 30, dtype=torch.bool), 10) == (5, 10)  # empty: the image centre
    with pytest.raises(ValueError, match="2-D"):
        square_around(mask[None], 5)


def test_crop_pads_with_zeros_past_the_border():
    image = torch.arange(1.0, 13.0).view(1, 3, 4)
    inside = crop_square(image, 1, 1, 2)
    torch.testing.assert_close(inside, torch.tensor([[[6.0, 7.0], [10.0, 11.0]]]))
    corner = crop_square(image, -1, 2, 3)  # one row above the image, one column past its right edge
    torch.testing.assert_close(corner, torch.tensor([[[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [7.0, 8.0, 0.0]]]))


def test_training_crop_follows_the_label_and_its_jitter_stays_bounded():
    image = torch.rand(3, 100, 80)
    label = torch.zeros(2, 100, 80)
    label[0, 60:70, 20:30] = 1  # disc, centre (64.5, 24.5)
    label[1, 63:67, 23:27] = 1  # cup inside it
    crop = RandCropAroundStructured(["image", "label"], channel=0, side_fraction=0.5)  # side 40
    out = crop({"image": image, "label": label})
    assert out["image"].shape == (3, 40, 40) and out["label"].shape == (2, 40, 40)
    top, left = square_around(label[0] > 0, 40)
    torch.testing.assert_close(out["image"], crop_square(image, top, left, 40))
    assert out["label"][0].sum() == 100 and out["label"][1].sum() == 16  # the structure is whole inside
    jittered = RandCropAroundStructured(["image", "label"], channel=0, side_fraction=0.5, jitter=0.1)
    jittered.set_random_state(0)
    for _ in range(20):
        assert jittered({"image": image, "label": label})["label"][0].sum() == 100  # 4 px shift keeps the disc
    with pytest.raises(ValueError, match="side_fraction"):
        RandCropAroundStructured("image", side_fraction=0.0)


def test_preset_crops_then_resizes_image_and_labels():
    data = {"image": torch.rand(3, 64, 64), "label": torch.zeros(2, 64, 64)}
    data["label"][:, 20:30, 20:30] = 1
    chain = structure_crop_augmentation(["disc", "cup"], "disc", side_fraction=0.5, size=16, jitter=0.0)
    for transform in chain:
        data = transform(data)
    assert data["image"].shape == (3, 16, 16) and data["label"].shape == (2, 16, 16)
    assert set(data["label"].unique().tolist()) == {0.0, 1.0}
    assert data["label"][0].sum() == 25  # 10 px of 32 -> 5 px of 16
    with pytest.raises(ValueError, match="not among the structures"):
        structure_crop_augmentation(["lung"], "disc")
