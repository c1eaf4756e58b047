# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of the binary segmentation label checks (CheckSegmentationLabel / CheckSegmentationLabeld)."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from ld_monai.transforms import CheckSegmentationLabel, CheckSegmentationLabelD, CheckSegmentationLabeld


def _mt(x, name="labels/01_manual.png"):
    return MetaTensor(x, meta={"filename_or_obj": name})


def _mask_0_255(channels=1):
    x = torch.zeros(channels, 4, 5, dtype=torch.uint8)
    x[:, 1:3, 2:4] = 255
    return x


def test_binary_0_255_becomes_float_0_1_with_meta():
    out = CheckSegmentationLabel()(_mt(_mask_0_255()), image=_mt(torch.rand(3, 4, 5), "images/01.png"))
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "labels/01_manual.png"
    assert out.dtype == torch.float32 and out.shape == (1, 4, 5)
    assert torch.equal(out.as_tensor(), (_mask_0_255() > 0).float())
    # 0/1 and bool labels are fine too
    assert torch.equal(CheckSegmentationLabel()(_mask_0_255() // 255), out.as_tensor())
    assert torch.equal(CheckSegmentationLabel()(_mask_0_255().bool()), out.as_tensor())


def test_identical_rgb_channels_collapse_and_differing_channels_fail():
    out = CheckSegmentationLabel()(_mt(_mask_0_255(3)))
    assert out.shape == (1, 4, 5) and out.sum().item() == 4
    rgb = _mask_0_255(3)
    rgb[2, 0, 0] = 255
    with pytest.raises(ValueError, match=r"labels/01_manual.png: label has 3 channels with different content"):
        CheckSegmentationLabel()(_mt(rgb))


def test_shape_mismatch_names_both_files():
    with pytest.raises(ValueError) as err:
        CheckSegmentationLabel()(_mt(_mask_0_255()), image=_mt(torch.rand(3, 8, 5), "images/01.png"))
    message = str(err.value)
    assert "labels/01_manual.png" in message and "images/01.png" in message
    assert "(4, 5)" in message and "(8, 5)" in message


@pytest.mark.parametrize(
    "values, shown",
    [
        ([0, 1, 2], "[0, 1, 2]"),  # two foreground values
        ([0, 3, 7, 100, 128, 200, 255], "[0, 3, 7, 100, 128, ... (7 distinct values)]"),  # JPEG-like edges
        ([-1, 0], "[-1, 0]"),  # negative
        ([255], "[255]"),  # no background
    ],
)
def test_non_binary_values_are_listed(values, shown):
    label = torch.tensor(values, dtype=torch.float32).repeat(4).view(1, 2, -1)
    with pytest.raises(ValueError) as err:
        CheckSegmentationLabel()(_mt(label))
    message = str(err.value)
    assert message.startswith("labels/01_manual.png: non-binary label with values " + shown)
    assert "expected 0 and one foreground value (e.g. 0/255)" in message and "ld-monai prepare" in message


def test_empty_label_error_or_allow():
    empty = _mt(torch.zeros(1, 4, 5))
    with pytest.raises(ValueError, match=r"labels/01_manual.png: label has no foreground"):
        CheckSegmentationLabel()(empty)
    out = CheckSegmentationLabel(empty="allow")(empty)
    assert out.dtype == torch.float32 and out.sum().item() == 0
    with pytest.raises(ValueError, match="empty must be one of"):
        CheckSegmentationLabel(empty="skip")


def test_dict_twin_checks_every_key_against_the_image():
    data = {
        "image": _mt(torch.rand(3, 4, 5), "images/01.png"),
        "label": _mt(_mask_0_255(3)),
        "mask": _mt(torch.full((1, 4, 5), 255, dtype=torch.uint8).index_fill_(2, torch.tensor([0]), 0), "fov.png"),
    }
    out = CheckSegmentationLabeld(["label", "mask"])(data)
    assert out["image"] is data["image"]
    assert out["label"].shape == (1, 4, 5) and out["label"].sum().item() == 4
    assert out["mask"].sum().item() == 16 and out["mask"].meta["filename_or_obj"] == "fov.png"
    data["label"] = _mt(torch.zeros(1, 4, 5))
    assert CheckSegmentationLabelD("label", empty="allow")(data)["label"].sum().item() == 0
    with pytest.raises(KeyError, match="image_key 'img'"):
        CheckSegmentationLabeld("label", image_key="img")(data)
    lenient = CheckSegmentationLabeld(["label", "other"], image_key=None, empty="allow", allow_missing_keys=True)
    assert lenient(data)["label"].sum().item() == 0


def test_real_drive_label(data_dir):
    from monai.transforms import LoadImage

    path = data_dir / "fundus/DRIVE/training/1st_manual/21_manual1.gif"
    raw = LoadImage(reader="PILReader", reverse_indexing=False, ensure_channel_first=True)(str(path))
    assert raw.shape == (1, 584, 565)
    out = CheckSegmentationLabel()(raw, image=torch.zeros(3, 584, 565))
    assert out.dtype == torch.float32 and out.meta["filename_or_obj"] == str(path)
    assert torch.equal(torch.unique(out.as_tensor()), torch.tensor([0.0, 1.0]))
    assert out.sum().item() == (raw == 255).sum().item()
    assert 0.05 < out.mean().item() < 0.2  # DRIVE vessels cover roughly a tenth of the image
