# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose
from PIL import Image

from ld_monai.transforms import (
    native_resolution_outputs,
    SaveMaskd,
    segmentation_augmentation,
    segmentation_inference_outputs,
    segmentation_postprocessing,
    segmentation_preprocessing,
    structures_to_label_map,
)


@pytest.fixture
def drive_item(data_dir):
    root = data_dir / "fundus" / "DRIVE" / "training"
    return {
        "image": str(root / "images" / "21_training.tif"),
        "vessel": str(root / "1st_manual" / "21_manual1.gif"),
        "mask": str(root / "mask" / "21_training_mask.gif"),
    }


def test_fundus_preprocessing_on_a_real_drive_image(drive_item):
    out = Compose(segmentation_preprocessing("fundus", ["vessel"], "mask", image_size=128))(drive_item)
    assert out["image"].shape == (3, 128, 128) and out["label"].shape == (1, 128, 128)
    assert set(out["label"].unique().tolist()) == {0.0, 1.0} and set(out["mask"].unique().tolist()) == {0.0, 1.0}
    assert 0.05 < out["label"].mean() < 0.2  # DRIVE vessels cover ~12% of the field of view
    assert out["mask"].mean() > 0.6  # the field-of-view crop keeps mostly the eye
    inside = out["image"][:, out["mask"][0] > 0]
    assert abs(inside.mean()) < 1.5  # ImageNet-normalised
    assert "vessel" not in out


def test_label_size_mismatch_names_the_files(drive_item, data_dir):
    drive_item["vessel"] = str(data_dir / "fundus" / "STARE" / "labels-ah" / "im0001.ah.png")
    with pytest.raises(RuntimeError) as error:  # MONAI's Compose wraps the transform's ValueError
        Compose(segmentation_preprocessing("fundus", ["vessel"], "mask"))(drive_item)
    cause = str(error.value.__cause__)
    assert "im0001.ah.png" in cause and "21_training.tif" in cause


def test_augmentation_moves_image_label_and_mask_together(drive_item):
    pre = Compose(segmentation_preprocessing("fundus", ["vessel"], "mask", image_size=96))
    aug = Compose(segmentation_augmentation("fundus", "mask")).set_random_state(0)
    before = pre(drive_item)
    out = aug(before)
    assert set(out["label"].unique().tolist()) <= {0.0, 1.0}  # nearest interpolation keeps labels binary
    outside = [(d["label"] * (1 - d["mask"])).sum() for d in (before, out)]
    assert outside[1] <= outside[0] + 2 and out["label"].sum() > 0.9 * before["label"].sum()  # moved together


def test_radiograph_zoom_moves_image_and_label_together_and_intensity_leaves_the_label():
    """A bright square and its label: after the random zoom the label still covers the bright pixels; the
    intensity changes touch the image only."""
    image = -torch.ones(1, 64, 64)
    image[0, 20:44, 16:40] = 1.0
    item = {"image": MetaTensor(image.clone()), "label": MetaTensor((image > 0).float())}
    zoomed = Compose(segmentation_augmentation("xray", scale=0.2)).set_random_state(3)(dict(item))
    bright = zoomed["image"] > 0
    agreement = (bright == (zoomed["label"] > 0)).float().mean()
    assert agreement > 0.97 and zoomed["label"].sum() != item["label"].sum()  # zoomed, and together
    changed = 0
    for seed in range(8):  # each intensity change has probability 0.5: over 8 draws some happen
        out = Compose(segmentation_augmentation("xray", intensity=True)).set_random_state(seed)(dict(item))
        changed += not torch.allclose(out["image"].as_tensor(), image, atol=1e-3)
        assert set(out["label"].unique().tolist()) <= {0.0, 1.0}
        inside = out["image"][out["label"] > 0].mean() > out["image"][out["label"] == 0].mean()
        assert inside  # still the bright square under the label (rotation moves both)
    assert changed >= 4


def test_postprocessing_thresholds_and_masks():
    logits = torch.tensor([[[2.0, -2.0], [0.1, 3.0]]])
    item = {"pred": logits, "label": torch.ones(1, 2, 2), "mask": torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])}
    out = segmentation_postprocessing("mask")(item)
    assert out["pred"].tolist() == [[[1.0, 0.0], [1.0, 0.0]]]
    assert out["label"].tolist() == [[[1.0, 1.0], [1.0, 0.0]]]
    assert torch.allclose(out["prob"], torch.sigmoid(logits))


def test_label_map_keeps_the_innermost_structure():
    disc_cup = torch.tensor([[[1, 1, 0]], [[1, 0, 0]]])
    assert structures_to_label_map(disc_cup).tolist() == [[[2, 1, 0]]]


def test_inference_outputs_map_masks_back_to_the_input_geometry(drive_item, tmp_path):
    pre = Compose(segmentation_preprocessing("fundus", image_size=512))
    item = pre({"image": drive_item["image"]})
    truth = Compose(segmentation_preprocessing("fundus", ["vessel"], image_size=512))(drive_item)["label"]
    item["pred"] = MetaTensor(truth.as_tensor() * 4 - 2, meta=item["image"].meta)  # logits of the true mask
    Compose([segmentation_postprocessing(), segmentation_inference_outputs(pre, str(tmp_path), ["vessel"])])(item)
    source = np.array(Image.open(drive_item["vessel"])) > 0
    nifti = nib.load(tmp_path / "21_training_mask.nii.gz")
    png = np.array(Image.open(tmp_path / "21_training_mask.png"))
    assert nifti.shape == png.shape == source.shape == (584, 565)
    assert set(np.unique(png)) == {0, 255}
    def dice(shift):
        moved = np.roll(png > 0, shift, axis=(0, 1))
        return 2 * (source & moved).sum() / (source.sum() + moved.sum())

    # 565 -> 512 -> 565 px loses some one-pixel vessels, but the mask must not be shifted
    assert dice((0, 0)) > 0.8
    assert all(dice((0, 0)) > dice(shift) for shift in [(1, 0), (-1, 0), (0, 1), (0, -1)])


def test_save_mask_writes_values_and_affine(tmp_path):
    affine = torch.tensor([[0.2, 0, 0, 5.0], [0, 0.3, 0, -1.0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)
    mask = MetaTensor(torch.tensor([[[0, 1], [2, 0]]], dtype=torch.uint8), affine=affine)
    mask.meta["filename_or_obj"] = "/data/case7.dcm"
    SaveMaskd("pred", tmp_path, num_structures=2)({"pred": mask})
    nifti = nib.load(tmp_path / "case7_mask.nii.gz")
    assert np.asarray(nifti.dataobj).tolist() == [[0, 1], [2, 0]] and np.allclose(nifti.affine, affine.numpy())
    assert np.array(Image.open(tmp_path / "case7_mask.png")).tolist() == [[0, 127], [254, 0]]
    with pytest.raises(ValueError, match=r"\(1, H, W\)"):
        SaveMaskd("pred", tmp_path)({"pred": MetaTensor(torch.zeros(2, 2, 2))})


def test_native_resolution_scoring_maps_a_perfect_prediction_back(drive_item):
    """The label at the network's resolution used as the prediction comes back to the image's own 565 x 584 pixels
    with the native label: Dice near 1 inside the field of view (vessels one or two pixels wide lose a little
    to the down- and up-sampling), exactly 0 outside it."""
    pre = Compose(segmentation_preprocessing("fundus", ["vessel"], "mask", 512, native_suffix="_native"))
    item = pre(drive_item)
    assert item["image"].shape[-2:] == (512, 512) and item["label_native"].shape == (1, 584, 565)
    assert item["mask_native"].shape == (1, 584, 565)
    # a perfect prediction at the network's resolution, carrying the image's history as a network output does
    item["prob"] = item["image"][:1] * 0 + item["label"].as_tensor()
    out = native_resolution_outputs(pre, "mask")(item)
    pred, label = out["pred_native"], out["label_native"]
    assert pred.shape == (1, 584, 565)
    dice = 2 * (pred * label).sum() / (pred.sum() + label.sum())
    assert dice > 0.94  # (with "area" resizing, whose inverse shifts by half a pixel: 0.83)
    assert pred[out["mask_native"] == 0].sum() == 0


def test_patches_are_crops_of_the_augmented_image_with_their_labels(drive_item):
    """Each patch of the patch recipe is a window of one augmented image: image, label and mask cut together."""
    pre = Compose(segmentation_preprocessing("fundus", ["vessel"], "mask", image_size=96))(drive_item)
    chain = segmentation_augmentation("fundus", "mask", patch_size=32, patches_per_image=5)
    whole = Compose(chain[:-1]).set_random_state(4)(dict(pre))
    patches = Compose(chain).set_random_state(4)(dict(pre))
    assert isinstance(patches, list) and len(patches) == 5
    for patch in patches:
        assert patch["image"].shape == (3, 32, 32) and patch["label"].shape == patch["mask"].shape == (1, 32, 32)
        # find the window: the patch's image is an exact crop of the same augmented image
        windows = whole["image"].as_tensor().unfold(1, 32, 1).unfold(2, 32, 1)  # (3, 65, 65, 32, 32)
        error = (windows - patch["image"].as_tensor()[:, None, None]).abs().amax(dim=(0, 3, 4))
        row, col = divmod(int(error.argmin()), error.shape[1])
        assert float(error.min()) == 0.0
        for key in ("label", "mask"):
            torch.testing.assert_close(patch[key].as_tensor(), whole[key][:, row:row + 32, col:col + 32].as_tensor())
    with pytest.raises(ValueError, match="patch_size"):
        segmentation_augmentation("fundus", patch_size=0)


def test_foreground_patches_hold_the_structure_and_uniform_ones_mostly_miss_it():
    """A 6 x 6 structure in a 96 x 96 radiograph: patches centred on the foreground all contain it; uniform patches
    of the same size mostly do not."""
    image = torch.zeros(1, 96, 96)
    label = torch.zeros(1, 96, 96)
    label[0, 60:66, 20:26] = 1.0
    item = {"image": MetaTensor(image), "label": MetaTensor(label)}

    def patches_with_structure(fraction):
        chain = segmentation_augmentation("xray", patch_size=16, patches_per_image=8,
                                          foreground_patch_fraction=fraction)
        patches = Compose(chain[1:]).set_random_state(0)(dict(item))  # without the rotation: the square stays put
        assert len(patches) == 8 and all(p["image"].shape == (1, 16, 16) for p in patches)
        return sum(int(p["label"].sum() > 0) for p in patches)

    assert patches_with_structure(1.0) == 8
    assert patches_with_structure(0.0) <= 2
    with pytest.raises(ValueError, match="foreground_patch_fraction"):
        segmentation_augmentation("xray", patch_size=16, foreground_patch_fraction=1.5)


@pytest.mark.parametrize("modality", ["fundus", "xray"])
def test_weight_image_follows_the_label_as_the_last_label_channel(drive_item, modality, tmp_path):
    """A weight image equal to the label x 255 comes out as a copy of the label channel (cropped and resized
    alike), and half of 255 as 0.5: the [label, weight] target of UncertaintyWeightedLoss."""
    label = np.asarray(Image.open(drive_item["vessel"]).convert("L"))
    Image.fromarray(label).save(tmp_path / "weight.png")
    Image.fromarray(np.full_like(label, 128)).save(tmp_path / "half.png")
    if modality == "xray":
        Image.open(drive_item["image"]).convert("L").save(tmp_path / "image.png")
        drive_item = {"image": str(tmp_path / "image.png"), "vessel": drive_item["vessel"]}
    for weight, check in (("weight.png", "copy"), ("half.png", "half")):
        item = {**drive_item, "certainty": str(tmp_path / weight)}
        out = Compose(segmentation_preprocessing(modality, ["vessel"], image_size=128, weight_key="certainty"))(item)
        assert out["label"].shape == (2, 128, 128) and "certainty" not in out
        if check == "copy":  # bilinear against nearest-exact: equal away from the vessel borders
            assert (out["label"][1] - out["label"][0]).abs().mean() < 0.1
            assert torch.corrcoef(out["label"].reshape(2, -1))[0, 1] > 0.8
        else:
            torch.testing.assert_close(out["label"][1].float(), torch.full((128, 128), 128 / 255), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="structures"):
        segmentation_preprocessing(modality, image_size=128, weight_key="certainty")


def test_keep_ratio_resizes_the_short_side_and_crops_the_centre(tmp_path):
    """A 60 x 120 radiograph bright in its middle half: kept in ratio (30 x 60), its centre square is the bright
    part alone; a square resize would keep the dark sides."""
    pixels = np.zeros((60, 120), dtype=np.uint8)
    pixels[:, 30:90] = 200
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    chain = Compose(segmentation_preprocessing("xray", image_size=30, image_resize="area", normalize=False,
                                               keep_ratio=True))
    image = chain({"image": str(tmp_path / "wide.png")})["image"]
    assert image.shape == (1, 30, 30) and float(image.min()) == float(image.max())
    with pytest.raises(ValueError, match="keep_ratio"):
        segmentation_preprocessing("xray", ["lung"], keep_ratio=True)
