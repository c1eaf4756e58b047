# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The one-shot landmark bundle on real cephalograms (Hamedan, ``LD_MONAI_DATA_DIR``): inference writes the table
and overlays, evaluation gives the scores computed independently, every refinement setting reaches the refinement,
the metadata verifies.

The network is a seeded random LD network saved as LD pretraining saves its ``model.pt``: these tests check the
plumbing, not the matching quality."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, run, verify_metadata
from PIL import Image

from ld_monai.apps.prepare import prepare_dataset
from ld_monai.data import landmark_array, read_landmark_table, write_radiograph_dicom
from ld_monai.inferers import LandmarkTemplate, TemplateRefinement, template_refinement
from ld_monai.metrics import radial_errors
from ld_monai.networks import LocalDiscriminationNet

from ..conftest import REPO

CONFIGS = REPO / "bundles" / "oneshot_landmark_detection" / "configs"
QUERIES = ["002", "003", "004"]  # PNG queries; 002 has two labels twice in the table (dropped: not scored)
DICOM_ID, SPACING = "009", 0.1


def run_config(files, **overrides):
    run(
        config_file=[str(CONFIGS / f) for f in files],
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=str(CONFIGS / "logging.conf"),
        bundle_root=str(CONFIGS.parent),
        **overrides,
    )


def root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


@pytest.fixture(scope="module")
def settings(data_dir, tmp_path_factory) -> dict:
    """Bundle overrides: a random LD pretraining checkpoint, template 001, 3 PNG queries and 1 DICOM (0.1 mm)."""
    root = tmp_path_factory.mktemp("oneshot")
    torch.manual_seed(0)
    torch.save(LocalDiscriminationNet(in_channels=1).state_dict(), root / "model.pt")  # with its clustering head
    ceph = data_dir / "ceph" / "Hamedan"
    inputs = root / "inputs"
    inputs.mkdir()
    for image_id in QUERIES:
        (inputs / f"{image_id}.png").symlink_to(ceph / "images" / f"{image_id}.png")
    grey = np.asarray(Image.open(ceph / "images" / f"{DICOM_ID}.png").convert("L"))
    write_radiograph_dicom(grey.astype(np.uint16) * 16, inputs / f"{DICOM_ID}.dcm", pixel_spacing=(SPACING, SPACING))
    return {
        "checkpoint": str(root / "model.pt"),
        "template_image": str(ceph / "images" / "001.png"),
        "template_landmarks": str(ceph / "landmarks.csv"),
        "template_annotator": "Dr_farhadifar",
        "input_dir": str(inputs),
        "output_dir": str(root / "run"),
        "image_size": [256, 208],
        "device": "$torch.device('cpu')",
    }


def test_inference_then_evaluation(settings):
    run_config(["inference.json"], **settings)
    output = settings["output_dir"]
    with open(f"{output}/landmarks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = QUERIES + [DICOM_ID]
    assert len(rows) == 4 * 19 and sorted({r["image"] for r in rows}) == ids
    labels = [r["label"] for r in rows if r["image"] == "002"]
    assert labels == [f"l{k}" for k in range(1, 20)]  # the template's labels, in the table's order
    for row in rows:
        x, y = float(row["x_px"]), float(row["y_px"])
        assert math.isfinite(x) and math.isfinite(y) and -1 <= float(row["confidence"]) <= 1
        if row["image"] == DICOM_ID:
            assert (float(row["x_mm"]), float(row["y_mm"])) == pytest.approx((x * SPACING, y * SPACING))
        else:
            assert row["x_mm"] == row["y_mm"] == ""
    for image_id in ids:
        with Image.open(f"{output}/overlays/{image_id}.png") as overlay:
            assert overlay.format == "PNG" and max(overlay.size) <= 1024

    run_config(["inference.json", "evaluate.json"], **settings)
    summary = json.loads(open(f"{output}/eval/metrics_summary.json").read())
    assert summary["num_images_scored"] == summary["num_images_expected"] == 4 and summary["excluded"] == ["001"]
    predicted = {(r["image"], r["label"]): (float(r["x_px"]), float(r["y_px"])) for r in rows}
    pred = np.array([[predicted[(i, label)] for label in labels] for i in ids])
    reference = read_landmark_table(settings["template_landmarks"], annotator="Dr_farhadifar", duplicates="drop")
    errors = radial_errors(pred, landmark_array(reference, ids, labels))
    valid = errors[~np.isnan(errors)]
    assert summary["px"]["num_points"] == valid.size == 4 * 19 - 2
    assert summary["px"]["mre"] == pytest.approx(valid.mean())
    assert summary["px"]["median"] == pytest.approx(np.median(valid))
    for radius in (10, 20, 30, 40):
        assert summary["px"]["sdr"][str(radius)] == pytest.approx((valid <= radius).mean())
    mm = radial_errors(pred[-1:], landmark_array(reference, [DICOM_ID], labels), spacing=(SPACING, SPACING))
    assert summary["mm"]["num_images"] == 1 and summary["mm"]["mre"] == pytest.approx(np.nanmean(mm))
    assert summary["mm"]["sdr"]["2.5"] == pytest.approx((mm <= 2.5).mean())
    assert summary["px"]["per_landmark"]["l1"]["mre"] == pytest.approx(errors[:, 0].mean())
    with open(f"{output}/eval/metrics_per_landmark.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["label"] for r in table] == labels + ["all"]
    assert float(table[-1]["mre_mm"]) == pytest.approx(np.nanmean(mm))


def test_isbi2015_datalist_in_mm(settings, data_dir, tmp_path):
    """A prepared ISBI 2015 datalist gives the files, the table of the doctors' mean and the 0.3 mm spacing of
    PNGs that carry none: the evaluation reports mm against the mean."""
    isbi = data_dir / "ceph" / "ISBI2015"
    raw = tmp_path / "raw"
    (raw / "images").mkdir(parents=True)
    for image_id in ("125", "002", "003"):
        (raw / "images" / f"{image_id}.png").symlink_to(isbi / "images" / f"{image_id}.png")
    (raw / "landmarks.csv").symlink_to(isbi / "landmarks.csv")
    datalist = prepare_dataset("isbi2015", raw, tmp_path / "prepared", val_fraction=0.0)
    table_settings = ("template_landmarks", "template_annotator")  # from the datalist
    overrides = {key: value for key, value in settings.items() if key not in table_settings}
    overrides.update(input_dir=None, datalist=str(datalist), template_image=str(isbi / "images" / "125.png"),
                     output_dir=str(tmp_path / "run"))
    run_config(["inference.json"], **overrides)
    run_config(["inference.json", "evaluate.json"], **overrides)
    with open(tmp_path / "run" / "landmarks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted({r["image"] for r in rows}) == ["002", "003", "125"]
    for row in rows:
        assert (float(row["x_mm"]), float(row["y_mm"])) == pytest.approx((float(row["x_px"]) * 0.3,
                                                                          float(row["y_px"]) * 0.3))
    summary = json.loads((tmp_path / "run" / "eval" / "metrics_summary.json").read_text())
    assert summary["excluded"] == ["125"] and summary["mm"]["num_images"] == 2
    labels = [f"l{k}" for k in range(1, 20)]
    predicted = {(r["image"], r["label"]): (float(r["x_px"]), float(r["y_px"])) for r in rows}
    pred = np.array([[predicted[(i, label)] for label in labels] for i in ("002", "003")])
    mean = read_landmark_table(tmp_path / "prepared" / "landmarks.csv", annotator="mean")
    errors = radial_errors(pred, landmark_array(mean, ["002", "003"], labels), spacing=(0.3, 0.3))
    assert summary["mm"]["mre"] == pytest.approx(errors.mean())
    assert summary["mm"]["sdr"]["4"] == pytest.approx((errors <= 4).mean())


def test_rank_templates(settings, tmp_path):
    """rank_templates.json ranks the searched files without a template: one row per file, best first."""
    overrides = {key: value for key, value in settings.items() if not key.startswith("template")}
    overrides.update(output_dir=str(tmp_path), rank_partners=2, rank_grid=3)
    run_config(["inference.json", "rank_templates.json"], **overrides)
    with open(tmp_path / "template_ranking.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["image"] for r in rows) == sorted(QUERIES + [DICOM_ID])
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    means = [float(r["cycle_mean_px"]) for r in rows]
    assert means == sorted(means) and all(0 <= float(r["consistent_fraction"]) <= 1 for r in rows)


REFINEMENT = {"adapt_rounds": 2, "adapt_fraction": 0.5, "self_train_fraction": 0.75, "self_train_max_images": 3,
              "self_train_radius": 16, "direction_temperature": 5.0, "direction_steps": 2,
              "direction_learning_rate": 0.1, "direction_pull": 0.01}


def test_every_refinement_setting_is_a_bundle_setting():
    """Each setting of TemplateRefinement is a top-level key of the bundle, with TemplateRefinement's default, and an
    override of it reaches the refinement."""
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "inference.json"))
    defaults = TemplateRefinement()
    assert set(REFINEMENT) == {setting.name for setting in dataclasses.fields(TemplateRefinement)}
    assert parser.get_parsed_content("refinement") == defaults
    for key, value in REFINEMENT.items():
        assert parser[key] == getattr(defaults, key), key
    parser.update(REFINEMENT)
    assert parser.get_parsed_content("refinement") == TemplateRefinement(**REFINEMENT)


def test_refinement_overrides_reach_the_steps(settings, monkeypatch, tmp_path):
    """A run with a non-default self-training radius and direction temperature: self-training gets them, on the
    template the bundle read, and each landmark's direction is fitted at that temperature."""
    steps, temperatures = [], []
    self_train = template_refinement.self_train_template
    fit = template_refinement.fit_landmark_direction

    def record_self_train(inferer, template, images, *args, **kwargs):
        steps.append((type(template), len(images), args, kwargs["temperature"], kwargs["steps"]))
        return self_train(inferer, template, images, *args, **kwargs)

    def record_fit(descriptors, start, target, temperature, **kwargs):
        temperatures.append(temperature)
        return fit(descriptors, start, target, temperature, **kwargs)

    monkeypatch.setattr(template_refinement, "self_train_template", record_self_train)
    monkeypatch.setattr(template_refinement, "fit_landmark_direction", record_fit)
    run_config(["inference.json"], **{**settings, "output_dir": str(tmp_path), "adapt_rounds": 0,
                                      "self_train_radius": 16, "direction_temperature": 5.0, "direction_steps": 2})
    assert steps == [(LandmarkTemplate, 4, (0.25, 64, 16), 5.0, 2)]
    assert temperatures == [5.0] * 19
    assert (tmp_path / "landmarks.csv").is_file()


def test_missing_checkpoint_is_explained(settings):
    with pytest.raises(Exception) as raised:
        run_config(["inference.json"], **{**settings, "checkpoint": None})
    assert isinstance(root_cause(raised.value), ValueError) and "--checkpoint" in str(root_cause(raised.value))


def test_unknown_template_id_is_explained(settings):
    with pytest.raises(Exception) as raised:
        run_config(["inference.json"], **{**settings, "template_id": "999"})
    assert "template '999' is not in" in str(root_cause(raised.value))


def test_metadata_valid_against_2024_schema(data_dir):
    schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
    if not schema.is_file():
        pytest.skip(f"schema copy not found at {schema}")
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(schema))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["version"] == "0.7.0" and meta["version"] in meta["changelog"]
    assert not (CONFIGS / "train.json").exists()  # one-shot: the only training is LD pretraining
