# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Landmark detection on files with a stand-in inferer (known points): the table (px, mm with the right axes,
confidence), the overlays, per-file failures; refinement on the readable files; the template from a table and its
errors; loading the network."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from ld_monai.data import write_radiograph_dicom
from ld_monai.apps.landmark_detection import (
    detect_landmarks,
    load_landmark_network,
    read_landmark_datalist,
    read_landmark_template,
    refine_landmark_template,
)
from ld_monai.inferers import LandmarkTemplate, OneShotLandmarkDetector, TemplateRefinement
from ld_monai.networks import LocalDiscriminationNet

POINTS = np.array([[4.0, 10.0], [30.0, 2.5]])  # (x, y) px, the same in every query


class FixedPoints:
    """Finds ``POINTS`` in every query; its template is what it was given."""

    def make_template(self, image, landmarks):
        return image, np.asarray(landmarks)

    def __call__(self, image, template):
        assert template == "the template"
        return {"landmarks": POINTS.copy(), "confidence": np.array([0.5, 0.25])}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture()
def images(tmp_path):
    """A 40 x 60 PNG, the same as a DICOM with 0.2 mm rows / 0.5 mm columns and as a NIfTI with pixdim 0.3, 0.4."""
    grey = np.tile(np.arange(60, dtype=np.uint8) * 4, (40, 1))
    Image.fromarray(grey).save(tmp_path / "plain.png")
    write_radiograph_dicom(grey.astype(np.uint16) * 16, tmp_path / "scan.dcm", pixel_spacing=(0.2, 0.5))
    nib.save(nib.Nifti1Image(grey.astype(np.int16), np.diag([0.3, 0.4, 1.0, 1.0])), tmp_path / "vol.nii.gz")
    return [str(tmp_path / name) for name in ("plain.png", "scan.dcm", "vol.nii.gz")]


def test_table_in_px_and_mm(images, tmp_path):
    assert isinstance(FixedPoints(), OneShotLandmarkDetector)
    result = detect_landmarks(FixedPoints(), "the template", images, tmp_path / "out", ["a", "b"], progress=False)
    rows = read_rows(result.landmarks_csv)
    assert [(r["image"], r["label"]) for r in rows] == [(i, lab) for i in ("plain", "scan", "vol") for lab in "ab"]
    got = {(r["image"], r["label"]): r for r in rows}
    assert float(got["plain", "b"]["x_px"]) == 30.0 and float(got["plain", "b"]["y_px"]) == 2.5
    assert got["plain", "a"]["x_mm"] == got["plain", "a"]["y_mm"] == ""
    # DICOM PixelSpacing is (row, column): x (column) x 0.5 mm, y (row) x 0.2 mm
    assert (float(got["scan", "b"]["x_mm"]), float(got["scan", "b"]["y_mm"])) == pytest.approx((15.0, 0.5))
    assert (float(got["vol", "a"]["x_mm"]), float(got["vol", "a"]["y_mm"])) == pytest.approx((1.6, 3.0))
    assert [float(r["confidence"]) for r in rows[:2]] == [0.5, 0.25]
    assert sorted(p.name for p in (tmp_path / "out" / "overlays").iterdir()) == ["plain.png", "scan.png", "vol.png"]
    assert result.failed == {}


@pytest.mark.parametrize("given", ["number", "per file"])
def test_spacing_for_files_without_one(images, tmp_path, given):
    """``spacing_mm`` gives the PNG its mm; the DICOM and the NIfTI keep their own spacing."""
    spacing = 0.25 if given == "number" else {images[0]: 0.25, images[1]: 9.0}
    result = detect_landmarks(FixedPoints(), "the template", images, tmp_path / "out", ["a", "b"], progress=False,
                              spacing_mm=spacing)
    got = {(r["image"], r["label"]): r for r in read_rows(result.landmarks_csv)}
    assert (float(got["plain", "b"]["x_mm"]), float(got["plain", "b"]["y_mm"])) == pytest.approx((7.5, 0.625))
    assert (float(got["scan", "b"]["x_mm"]), float(got["scan", "b"]["y_mm"])) == pytest.approx((15.0, 0.5))


def test_landmark_datalist(tmp_path):
    (tmp_path / "data").mkdir()
    datalist = {"landmarks": "table.csv", "reference_annotator": "mean",
                "training": [{"image": "../img/001.png", "name": "001", "spacing_mm": 0.3}],
                "validation": [{"image": "../img/002.png", "name": "002"}], "test": []}
    path = tmp_path / "data" / "datalist.json"
    path.write_text(json.dumps(datalist))
    read = read_landmark_datalist(path)
    first, second = str(tmp_path / "img" / "001.png"), str(tmp_path / "img" / "002.png")
    assert read.images == [first, second] and read.spacing_mm == {first: 0.3}
    assert read.landmarks == str(tmp_path / "data" / "table.csv") and read.reference_annotator == "mean"
    assert read_landmark_datalist(path, ["test"]).images == []
    with pytest.raises(ValueError, match="no split"):
        read_landmark_datalist(path, ["Test1"])
    path.write_text(json.dumps({"training": []}))
    with pytest.raises(ValueError, match="not a landmark datalist"):
        read_landmark_datalist(path)
    with pytest.raises(FileNotFoundError, match="prepare isbi2015"):
        read_landmark_datalist(tmp_path / "missing.json")


def test_failures_are_skipped_or_raised(images, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    twin = tmp_path / "sub" / "plain.png"
    twin.parent.mkdir()
    twin.write_bytes((tmp_path / "plain.png").read_bytes())
    files = [images[0], str(bad), str(twin)]
    result = detect_landmarks(FixedPoints(), "the template", files, tmp_path / "out", ["a", "b"], progress=False,
                              skip_failures=True)
    assert list(result.overlays) == [images[0]]
    assert result.failed[str(bad)].startswith("RadiographReadError: cannot read it")
    assert "already used by" in result.failed[str(twin)]
    assert {r["image"] for r in read_rows(result.landmarks_csv)} == {"plain"}
    with pytest.raises(ValueError, match="broken.png: cannot read it"):
        detect_landmarks(FixedPoints(), "the template", [str(bad)], tmp_path / "raise", ["a", "b"], progress=False)
    assert not (tmp_path / "raise" / "landmarks.csv").exists()
    with pytest.raises(ValueError, match="expected one per label"):
        detect_landmarks(FixedPoints(), "the template", images[:1], tmp_path / "raise", ["a", "b", "c"],
                         progress=False)
    with pytest.raises(ValueError, match="list of files is empty"):
        detect_landmarks(FixedPoints(), "the template", [], tmp_path / "raise", ["a"], progress=False)


class RecordsRefinement:
    """Stands in for ``refinement`` (a :class:`TemplateRefinement`, whose steps are on or off): records the images
    it is given (size, modality) and returns a new template."""

    def __init__(self, refinement: TemplateRefinement) -> None:
        self.enabled = refinement.enabled
        self.calls = []

    def __call__(self, inferer, template, images, load=None, progress=False):
        self.calls.append([(tuple(i.shape), i.meta["modality"]) for i in images])
        return replace(template, fine=-template.fine)


def cr_template() -> LandmarkTemplate:
    """A one-channel CR template of 2 landmarks."""
    vectors = torch.eye(2)
    return LandmarkTemplate(coarse=vectors, fine=vectors, own_coarse=vectors, own_fine=vectors, projection=None,
                            points=POINTS, channels=1, modality="CR")


def refinement(**settings) -> RecordsRefinement:
    return RecordsRefinement(TemplateRefinement(**settings))


def test_refinement_on_the_readable_files_at_network_size(images, tmp_path):
    """Unreadable files, colour images and another DICOM modality (the DX file; the template is CR) are left out;
    the others reach the refinement at the network's size, with their modality; with both steps off, or no file
    left, the template comes back as it was."""
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    colour = tmp_path / "colour.png"
    ramp = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(np.dstack([ramp, ramp, np.zeros_like(ramp)])).save(colour)
    cr = tmp_path / "cr.dcm"
    write_radiograph_dicom(np.full((40, 60), 800, dtype=np.uint16), cr, modality="CR")
    inferer = SimpleNamespace(image_size=(16, 24))
    files = images + [str(bad), str(colour), str(cr)]
    template, refiner = cr_template(), refinement()
    refined, count = refine_landmark_template(inferer, template, files, refiner, progress=False)
    assert count == 3 and refiner.calls == [[((1, 16, 24), None), ((1, 16, 24), None), ((1, 16, 24), "CR")]]
    torch.testing.assert_close(refined.fine, -template.fine)
    refined, count = refine_landmark_template(inferer, template, [str(bad)], refinement(), progress=False)
    assert refined is template and count == 0
    for rounds, fraction, expected in ((0, 0.2, 3), (2, 0.0, 3), (0, 0.0, 0)):
        refiner = refinement(adapt_rounds=rounds, self_train_fraction=fraction)
        refined, count = refine_landmark_template(inferer, template, files, refiner, progress=False)
        assert count == expected and len(refiner.calls) == (1 if expected else 0)
        assert (refined is template) == (not expected)


@pytest.fixture()
def table(tmp_path):
    rows = ["annotator,image_id,label,x,y", "A,plain,l1,1,2", "A,plain,l2,3,4", "A,plain,l3,5,6", "B,plain,l1,9,9",
            "A,other,l1,1,1", "A,other,l1,2,2", "A,twice,l1,1,1", "A,twice,l1,2,2", "A,twice,l2,1,1"]
    path = tmp_path / "landmarks.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_template_from_table(images, table):
    (image, points), labels = read_landmark_template(FixedPoints(), images[0], table, annotator="A")
    assert labels == ["l1", "l2", "l3"]
    np.testing.assert_array_equal(points, [[1, 2], [3, 4], [5, 6]])
    assert tuple(image.shape) == (1, 40, 60)
    (_, points), labels = read_landmark_template(FixedPoints(), images[0], table, annotator="A", labels=["l3", "l1"])
    assert labels == ["l3", "l1"]
    np.testing.assert_array_equal(points, [[5, 6], [1, 2]])  # the order of the labels


def test_template_errors(images, table):
    with pytest.raises(ValueError, match=r"template 'nowhere' is not in .*\['plain', 'other', 'twice'\]"):
        read_landmark_template(FixedPoints(), images[0], table, image_id="nowhere", annotator="A")
    with pytest.raises(ValueError, match=r"has no landmark \['l9'\]"):
        read_landmark_template(FixedPoints(), images[0], table, annotator="A", labels=["l1", "l9"])
    with pytest.raises(ValueError, match=r"labels \['l1'\] on several rows"):
        read_landmark_template(FixedPoints(), images[0], table, image_id="twice", annotator="A")
    with pytest.raises(ValueError, match="several annotators"):
        read_landmark_template(FixedPoints(), images[0], table)
    with pytest.raises(ValueError, match="set template_image and template_landmarks"):
        read_landmark_template(FixedPoints(), None, table)


def test_network_from_pretraining_checkpoint(tmp_path):
    torch.manual_seed(0)
    pretrained = LocalDiscriminationNet(in_channels=1)  # with the clustering head of LD pretraining
    torch.save(pretrained.state_dict(), tmp_path / "model.pt")
    network = load_landmark_network(LocalDiscriminationNet(in_channels=1, num_clusters=0), tmp_path / "model.pt")
    assert not network.training
    torch.testing.assert_close(network.embedding_head[1].weight, pretrained.embedding_head[1].weight)
    torch.save({"encoder": pretrained.encoder.state_dict()}, tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match="not encoder.pt"):
        load_landmark_network(LocalDiscriminationNet(in_channels=1, num_clusters=0), tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match="no checkpoint"):
        load_landmark_network(LocalDiscriminationNet(in_channels=1, num_clusters=0), None)
    with pytest.raises(FileNotFoundError):
        load_landmark_network(LocalDiscriminationNet(in_channels=1, num_clusters=0), tmp_path / "missing.pt")
