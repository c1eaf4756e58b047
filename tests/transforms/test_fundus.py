# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the fundus field-of-view crop (research ``identify_roi``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import FundusFieldOfViewCrop, FundusFieldOfViewCropd, FundusFieldOfViewCropD


def _disc_image(h=200, w=240, center=(110, 130), radius=60, blob=True, value=200.0):
    """(3, h, w) 0-255 image: a bright disc plus (optionally) a small separate bright blob."""
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2
    img = np.zeros((3, h, w), dtype=np.float32)
    img[:, disc] = value
    img[0, disc] = value / 2  # coloured: only one channel needs to pass the threshold
    if blob:
        img[1, 5:9, 5:12] = 255.0  # burnt-in label, 8-connected to nothing else
    ys, xs = np.nonzero(disc)
    box = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
    return img, box


def test_crop_is_disc_box_plus_margin():
    img, (y0, y1, x0, x1) = _disc_image()
    crop = FundusFieldOfViewCrop()
    start, end = crop.compute_bounding_box(img)
    assert start == [y0 - 16, x0 - 16] and end == [y1 + 16, x1 + 16]
    out = crop(MetaTensor(torch.as_tensor(img)))
    assert isinstance(out, MetaTensor)
    assert tuple(out.shape) == (3, y1 - y0 + 32, x1 - x0 + 32)
    np.testing.assert_array_equal(out.numpy(), img[:, y0 - 16 : y1 + 16, x0 - 16 : x1 + 16])
    # the small blob is outside the crop; the crop is recorded (affine translation) and invertible
    assert float(out.affine[0, 3]) == y0 - 16 and float(out.affine[1, 3]) == x0 - 16
    restored = crop.inverse(out)
    assert tuple(restored.shape) == img.shape
    np.testing.assert_array_equal(restored.numpy()[:, y0:y1, x0:x1], img[:, y0:y1, x0:x1])


def test_margin_clipped_to_image():
    img, (y0, y1, x0, x1) = _disc_image(h=130, w=140, center=(62, 66), radius=60, blob=False)
    start, end = FundusFieldOfViewCrop(margin=16).compute_bounding_box(img)
    assert start == [max(y0 - 16, 0), max(x0 - 16, 0)] and start == [0, 0]
    assert end == [min(y1 + 16, 130), min(x1 + 16, 140)] and end == [130, 140]


def test_eight_connectivity_and_threshold():
    img = np.zeros((1, 50, 50), dtype=np.float32)
    img[0, 10:20, 10:20] = 100  # 100 px square
    img[0, 20, 20] = 100  # diagonal neighbour: joins only with 8-connectivity
    img[0, 21, 21] = 100
    img[0, 30:40, 30:40] = 20  # not above the threshold of 20
    start, end = FundusFieldOfViewCrop(margin=0).compute_bounding_box(img)
    assert start == [10, 10] and end == [22, 22]


def test_value_scale_for_unit_range_images():
    img, box = _disc_image()
    unit = img / 255.0
    a = FundusFieldOfViewCrop().compute_bounding_box(img)
    assert FundusFieldOfViewCrop().compute_bounding_box(unit) == a  # inferred value_scale = 1
    assert FundusFieldOfViewCrop(value_scale=1.0).compute_bounding_box(unit) == a
    # uint8 input
    assert FundusFieldOfViewCrop().compute_bounding_box(img.astype(np.uint8)) == a


def test_dict_crops_label_identically():
    img, (y0, y1, x0, x1) = _disc_image()
    label = np.zeros((1,) + img.shape[1:], dtype=np.float32)
    label[0, 100:120, 120:140] = 1.0
    label[0, 0:3, 0:3] = 1.0  # outside the FOV: cropped away
    data = {"image": MetaTensor(torch.as_tensor(img)), "label": MetaTensor(torch.as_tensor(label))}
    out = FundusFieldOfViewCropd(keys=("image", "label"))(data)
    sl = (slice(None), slice(y0 - 16, y1 + 16), slice(x0 - 16, x1 + 16))
    np.testing.assert_array_equal(out["image"].numpy(), img[sl])
    np.testing.assert_array_equal(out["label"].numpy(), label[sl])
    assert out["label"].sum() == 400
    assert torch.equal(out["image"].affine, out["label"].affine)
    # source_key chooses where the box comes from; missing keys allowed on request
    out2 = FundusFieldOfViewCropD(keys=("label", "image", "mask"), source_key="image", allow_missing_keys=True)(data)
    assert out2["label"].shape[1:] == out["image"].shape[1:]
    with pytest.raises(KeyError):
        FundusFieldOfViewCropd(keys=("image", "mask"))(data)


def test_dict_shape_mismatch_raises():
    img, _ = _disc_image()
    data = {"image": img, "label": np.zeros((1, 10, 10), np.float32)}
    with pytest.raises(ValueError, match="spatial shape"):
        FundusFieldOfViewCropd(keys=("image", "label"))(data)


def test_black_image_raises_with_filename():
    img = MetaTensor(torch.zeros(3, 64, 64), meta={"filename_or_obj": "x.png"})
    with pytest.raises(ValueError, match=r"x\.png.*expected") as err:
        FundusFieldOfViewCrop()(img)
    assert "field of view" in str(err.value)
    with pytest.raises(ValueError, match=r"x\.png"):
        FundusFieldOfViewCropd(keys="image")({"image": img})


def test_min_area_fraction():
    img, _ = _disc_image(radius=20)  # ~2.6% of the image
    with pytest.raises(ValueError, match="min_area_fraction"):
        FundusFieldOfViewCrop(min_area_fraction=0.25)(img)
    assert FundusFieldOfViewCrop(min_area_fraction=0.01)(img).shape[1] == 41 + 32


def test_real_retina_photograph():
    skdata = pytest.importorskip("skimage.data")
    rgb = skdata.retina()  # (1411, 1411, 3) uint8 fundus photograph, the disc nearly fills the frame
    img = torch.as_tensor(rgb).permute(2, 0, 1).contiguous()
    fov = (rgb > 20).any(-1)
    ys, xs = np.nonzero(fov)
    # without margin the crop is smaller than the image and holds the whole disc
    out = FundusFieldOfViewCrop(margin=0)(img)
    assert out.shape[1] < img.shape[1] and out.shape[2] < img.shape[2]
    start, end = FundusFieldOfViewCrop(margin=0).compute_bounding_box(img)
    assert start[0] <= ys.min() and start[1] <= xs.min() and end[0] > ys.max() and end[1] > xs.max()
    # a typical acquisition: black border around the disc and a burnt-in label in a corner
    padded = torch.zeros(3, 1611, 1711, dtype=torch.uint8)
    padded[:, 100:1511, 150:1561] = img
    padded[:, 10:30, 10:60] = 255
    start, end = FundusFieldOfViewCrop().compute_bounding_box(padded)
    assert start == [100 + ys.min() - 16, 150 + xs.min() - 16]
    assert end == [100 + ys.max() + 1 + 16, 150 + xs.max() + 1 + 16]
    out = FundusFieldOfViewCrop()(padded)
    assert out.shape[1] < padded.shape[1] and out.shape[2] < padded.shape[2]
    assert int((out > 20).any(0).sum()) == int(fov.sum())  # every FOV pixel kept, the label dropped
