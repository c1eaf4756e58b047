# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Green channel and CLAHE of fundus photographs: channels, values, metadata, and the preprocessing option."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose
from skimage.exposure import equalize_adapthist

from ld_monai.transforms import (
    FundusContrast,
    FundusContrastd,
    fundus_contrast_channels,
    fundus_contrast_statistics,
    segmentation_preprocessing,
)


def photograph() -> MetaTensor:
    """A low-contrast RGB picture: a dim disc on a dark ramp, values in [0, 1]."""
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2 < 15 ** 2).float()
    image = torch.stack([0.3 + 0.1 * disc, 0.2 + 0.05 * disc + 0.001 * xx, 0.1 + 0.02 * disc])
    return MetaTensor(image, meta={"filename_or_obj": "eye.png"})


def test_green_channel_is_the_second_channel_with_its_metadata():
    image = photograph()
    out = FundusContrast("green")(image)
    assert out.shape == (1, 64, 64) and isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "eye.png"
    torch.testing.assert_close(out.as_tensor(), image[1:2].as_tensor())
    assert FundusContrast(None)(image) is image


def test_clahe_equals_scikit_image_and_raises_the_contrast():
    image = photograph()
    out = FundusContrast("green_clahe")(image)
    expected = equalize_adapthist(image[1].numpy().astype(np.float64), clip_limit=0.01)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)
    assert out.std() > 3 * image[1].std()  # a dim structure is spread over the value range
    rgb = FundusContrastd("image", "clahe")({"image": image})["image"]
    assert rgb.shape == (3, 64, 64) and 0 <= float(rgb.min()) and float(rgb.max()) <= 1


def test_channels_statistics_and_errors():
    assert [fundus_contrast_channels(m) for m in (None, "green", "clahe", "green_clahe")] == [3, 1, 3, 1]
    assert fundus_contrast_statistics("green") == ((0.456,), (0.224,))
    with pytest.raises(ValueError, match="one of"):
        FundusContrast("gray")
    with pytest.raises(ValueError, match="RGB"):
        FundusContrast("green")(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match="fundus photographs"):
        segmentation_preprocessing("xray", fundus_contrast="green")


def test_preprocessing_of_a_real_drive_image_keeps_the_green_channel(data_dir):
    root = data_dir / "fundus" / "DRIVE" / "training"
    item = {"image": str(root / "images" / "21_training.tif"), "mask": str(root / "mask" / "21_training_mask.gif")}
    rgb = Compose(segmentation_preprocessing("fundus", mask_key="mask", image_size=64))(dict(item))
    green = Compose(segmentation_preprocessing("fundus", mask_key="mask", image_size=64,
                                               fundus_contrast="green"))(dict(item))
    assert green["image"].shape == (1, 64, 64)
    # the same pixels, normalised with the green channel's statistics
    torch.testing.assert_close(green["image"][0].as_tensor(), rgb["image"][1].as_tensor())
