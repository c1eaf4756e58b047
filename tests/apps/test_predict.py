# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai predict`` with the lung bundle on a folder of real and built clinical files: outputs in the input's
geometry, a DICOM SEG referencing its source, bad files reported while the others go on; with the one-shot landmark
bundle on real cephalograms."""

from __future__ import annotations

import csv
import glob
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.uid import JPEG2000Lossless

from ld_monai.apps.bundles import export_bundle
from ld_monai.apps.cli import main
from ld_monai.data import write_radiograph_dicom
from ld_monai.networks import LocalDiscriminationNet, TransferSegmentationNet
from ld_monai.apps.predict import BundlePredictor, predict
from tests.conftest import REPO

LANDMARK_BUNDLE = REPO / "bundles" / "oneshot_landmark_detection"


@pytest.fixture(scope="module")
def lung_bundle(tmp_path_factory) -> Path:
    """The lung bundle as a user has it: exported from the family (its inference.json runs alone)."""
    return export_bundle("lung_segmentation", tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """Weights of the lung bundle's network (seeded random init): these tests check the plumbing, not quality."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.save({"model": TransferSegmentationNet(1, 1).state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, data_dir: Path) -> Path:
    """A folder as a user brings it: DICOM with and without an extension, PNG, NIfTI, plus three bad files."""
    folder = tmp_path_factory.mktemp("inputs")
    png = sorted(glob.glob(str(data_dir / "xray" / "cxr_lungs" / "**" / "*.png"), recursive=True))[0]
    gray = np.asarray(Image.open(png).convert("L").resize((300, 280)))
    Image.fromarray(gray).save(folder / "chest.png")
    write_radiograph_dicom(gray.astype(np.uint16) * 16, folder / "1.2.826.0.1.3680043.8.498.1", modality="CR",
                           photometric="MONOCHROME1", pixel_spacing=(0.35, 0.3), transfer_syntax=JPEG2000Lossless)
    nib.save(nib.Nifti1Image(gray.astype(np.int16), np.diag([0.2, 0.25, 1.0, 1.0])), folder / "chest_nifti.nii.gz")
    (folder / "RG1_J2KI").write_bytes((data_dir / "dicom_nifti" / "dicom_wg04" / "RG1_J2KI").read_bytes())
    (folder / "CT_small.dcm").write_bytes((data_dir / "dicom_nifti" / "dicom_pydicom_wheel" / "CT_small.dcm")
                                          .read_bytes())
    full = (folder / "1.2.826.0.1.3680043.8.498.1").read_bytes()
    (folder / "truncated.dcm").write_bytes(full[: len(full) // 2])
    (folder / "README.txt").write_text("not an image: not listed, not an error")
    return folder


@pytest.fixture(scope="module")
def run(inputs, checkpoint, lung_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("predictions")
    return predict(lung_bundle, inputs, out, checkpoint=checkpoint, device="cpu", progress=False), out


def test_good_files_succeed_bad_files_are_reported(run, inputs):
    summary, out = run
    assert sorted(Path(p).name for p in summary.succeeded) == [
        "1.2.826.0.1.3680043.8.498.1", "RG1_J2KI", "chest.png", "chest_nifti.nii.gz"]
    failed = {Path(p).name: reason for p, reason in summary.failed.items()}
    assert sorted(failed) == ["CT_small.dcm", "truncated.dcm"]
    assert "Modality CT" in failed["CT_small.dcm"]
    assert failed["truncated.dcm"].startswith("RadiographReadError")
    # no half-written outputs for the failures, and a summary on disk that says the same
    assert not list(out.glob("CT_small*")) and not list(out.glob("truncated*"))
    written = json.loads((out / "summary.json").read_text())
    assert written["num_inputs"] == 6 and written["num_succeeded"] == 4 and written["num_failed"] == 2
    assert written["failed"] == summary.failed


def test_masks_keep_the_input_geometry(run, inputs):
    _, out = run
    dicom_mask = nib.load(out / "1.2.826.0.1.3680043.8.498.1_mask.nii.gz")
    assert dicom_mask.shape == (280, 300)
    np.testing.assert_allclose(dicom_mask.affine, np.diag([0.35, 0.3, 1.0, 1.0]), atol=1e-6)  # NIfTI: float32
    nifti_mask = nib.load(out / "chest_nifti_mask.nii.gz")
    assert nifti_mask.shape == (280, 300)
    np.testing.assert_allclose(nifti_mask.affine, nib.load(inputs / "chest_nifti.nii.gz").affine, atol=1e-6)
    assert nib.load(out / "RG1_J2KI_mask.nii.gz").shape == (1955, 1841)
    assert Image.open(out / "chest_mask.png").size == (300, 280)
    overlay = Image.open(out / "RG1_J2KI_overlay.png")
    assert max(overlay.size) == 1024 and overlay.mode == "RGB"


def test_dicom_seg_references_its_source(run, inputs):
    _, out = run
    for name in ("1.2.826.0.1.3680043.8.498.1", "RG1_J2KI"):
        source = pydicom.dcmread(inputs / name, stop_before_pixels=True)
        seg = pydicom.dcmread(out / f"{name}_seg.dcm")
        assert seg.Modality == "SEG" and seg.SegmentSequence[0].SegmentLabel == "lung"
        referenced = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID
        assert referenced == source.SOPInstanceUID and seg.StudyInstanceUID == source.StudyInstanceUID
        mask = np.asarray(nib.load(out / f"{name}_mask.nii.gz").dataobj) > 0
        np.testing.assert_array_equal(seg.pixel_array.astype(bool), mask)
    assert not (out / "chest_seg.dcm").exists()  # PNG input: no DICOM SEG


def test_cli_exit_code_and_errors(inputs, checkpoint, lung_bundle, tmp_path, capsys):
    good = tmp_path / "good"
    assert main(["predict", str(lung_bundle), str(inputs / "chest.png"), str(good), "--checkpoint",
                 str(checkpoint), "--device", "cpu"]) == 0
    assert "1 of 1 file(s) segmented" in capsys.readouterr().out
    assert main(["predict", str(lung_bundle), str(inputs / "CT_small.dcm"), str(tmp_path / "bad"),
                 "--checkpoint", str(checkpoint), "--device", "cpu"]) == 1
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        BundlePredictor(lung_bundle, tmp_path / "x", checkpoint=tmp_path / "missing.pt")
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": TransferSegmentationNet(3, 2).state_dict()}, wrong)
    with pytest.raises(ValueError):
        BundlePredictor(lung_bundle, tmp_path / "x", checkpoint=wrong, device="cpu")
    with pytest.raises(ValueError, match="pretraining bundle"):
        predict(REPO / "bundles" / "ld_pretraining", inputs / "chest.png", tmp_path / "x", checkpoint=checkpoint)
    with pytest.raises(FileNotFoundError, match="ld-monai bundle export lung_segmentation"):
        BundlePredictor(REPO / "bundles" / "lung_segmentation", tmp_path / "x", checkpoint=checkpoint)


def test_landmark_bundle_with_template_overrides(data_dir, tmp_path, capsys):
    """The one-shot landmark bundle: the template as -o overrides, one table for all files, a bad file reported."""
    torch.manual_seed(0)
    torch.save(LocalDiscriminationNet(in_channels=1).state_dict(), tmp_path / "model.pt")  # as LD pretraining saves
    ceph = data_dir / "ceph" / "Hamedan"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "003.png").symlink_to(ceph / "images" / "003.png")
    (inputs / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    common = [str(LANDMARK_BUNDLE), str(inputs), str(out), "--checkpoint", str(tmp_path / "model.pt"), "--device",
              "cpu"]
    template = ["-o", f"template_image={ceph / 'images' / '001.png'}", "-o", "template_annotator=Dr_farhadifar",
                "-o", f"template_landmarks={ceph / 'landmarks.csv'}", "-o", "image_size=[256,208]"]
    assert main(["predict", *common, *template]) == 1  # a file failed
    assert "1 of 2 file(s) searched for landmarks" in capsys.readouterr().out
    with open(out / "landmarks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 19 and {r["image"] for r in rows} == {"003"}
    written = json.loads((out / "summary.json").read_text())
    outputs = [str(out / "landmarks.csv"), str(out / "overlays" / "003.png")]
    assert written["succeeded"] == {str(inputs / "003.png"): outputs}
    assert written["failed"][str(inputs / "broken.png")].startswith("RadiographReadError")
    with pytest.raises(Exception) as raised:  # no template
        predict(LANDMARK_BUNDLE, inputs, tmp_path / "x", checkpoint=tmp_path / "model.pt", device="cpu", progress=False)
    cause = raised.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert "set template_image and template_landmarks" in str(cause)
