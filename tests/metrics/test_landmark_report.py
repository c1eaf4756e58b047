# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""landmark_report on known values: a prediction offset by (3, 4) px (error 5), mm from the prediction's mm
columns, landmarks missing from the reference, and the images missing from either side."""

from __future__ import annotations

import csv
import json
import math

import pytest

from ld_monai.data import write_landmarks_csv
from ld_monai.metrics import landmark_report

REFERENCE = {"a": {"l1": (10.0, 20.0), "l2": (30.0, 40.0)}, "b": {"l1": (50.0, 60.0), "l2": (70.0, 80.0)}}


@pytest.fixture()
def reference(tmp_path):
    path = tmp_path / "reference.csv"
    lines = ["annotator,image_id,label,x,y"]
    lines += [f"A,{image},{label},{x},{y}" for image, points in REFERENCE.items() for label, (x, y) in points.items()]
    lines += ["B,a,l1,0,0", "A,c,l1,1,1", "A,c,l2,1,1"]  # another annotator's point; image c
    path.write_text("\n".join(lines) + "\n")
    return path


def predictions(path, spacing=None, images=("a", "b"), offset=(3.0, 4.0)):
    """The reference moved by ``offset`` px; mm columns for the images in ``spacing`` {image: (sx, sy)}."""
    rows = []
    for image in images:
        for label, (x, y) in REFERENCE.get(image, {"l1": (1.0, 1.0), "l2": (1.0, 1.0)}).items():
            px = (x + offset[0], y + offset[1])
            s = (spacing or {}).get(image)
            mm = (px[0] * s[0], px[1] * s[1]) if s else (None, None)
            rows.append({"image": image, "label": label, "x_px": px[0], "y_px": px[1], "x_mm": mm[0], "y_mm": mm[1],
                         "confidence": 0.9})
    return write_landmarks_csv(path, rows)


def test_offset_of_3_4_pixels(reference, tmp_path):
    summary = landmark_report(predictions(tmp_path / "pred.csv"), reference, tmp_path / "eval", annotator="A",
                              radii_px=(4, 5))
    px = summary["px"]
    assert (px["mre"], px["std"], px["median"], px["num_points"]) == (5.0, 0.0, 5.0, 4)
    assert px["sdr"] == {"4": 0.0, "5": 1.0}
    assert px["per_landmark"]["l2"] == {"num_points": 2, "mre": 5.0, "sdr": {"4": 0.0, "5": 1.0}}
    assert summary["mm"] is None and summary["labels"] == ["l1", "l2"]
    assert summary["num_images_scored"] == summary["num_images_expected"] == 2
    assert json.loads((tmp_path / "eval" / "metrics_summary.json").read_text()) == summary
    with open(tmp_path / "eval" / "metrics_per_landmark.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["label"] for r in table] == ["l1", "l2", "all"]
    assert table[-1] == {"label": "all", "num_points_px": "4", "mre_px": "5.0", "sdr_px_4": "0.0", "sdr_px_5": "1.0"}


def test_mm_from_the_prediction_spacing(reference, tmp_path):
    pred = predictions(tmp_path / "pred.csv", spacing={"b": (0.5, 0.25)})
    summary = landmark_report(pred, reference, tmp_path / "eval", annotator="A", radii_mm=(1.8, 2))
    mm = summary["mm"]
    assert mm["num_images"] == 1 and mm["num_points"] == 2
    assert mm["mre"] == pytest.approx(math.hypot(3 * 0.5, 4 * 0.25))  # 1.803 mm
    assert mm["sdr"] == {"1.8": 0.0, "2": 1.0}
    assert summary["px"]["num_images"] == 2 and summary["px"]["mre"] == 5.0
    with open(tmp_path / "eval" / "metrics_per_landmark.csv", newline="") as f:
        assert float(list(csv.DictReader(f))[-1]["mre_mm"]) == pytest.approx(1.8028, abs=1e-4)


def test_excluded_images_and_missing_reference_landmarks(reference, tmp_path):
    with open(reference, "a") as f:
        f.write("A,c,l2,2,2\n")  # c's l2 on two rows
    pred = predictions(tmp_path / "pred.csv", images=("a", "b", "c"))
    summary = landmark_report(pred, reference, tmp_path / "eval", exclude=["b"], annotator="A", duplicates="drop")
    assert summary["num_images_expected"] == 2 and summary["excluded"] == ["b"]
    assert summary["px"]["num_points"] == 3  # c's l2 dropped from the reference: not scored
    assert summary["px"]["per_landmark"]["l2"]["num_points"] == 1


def test_missing_images_are_errors(reference, tmp_path):
    pred = predictions(tmp_path / "pred.csv", images=("a",))
    with pytest.raises(ValueError, match=r"missing from the prediction .*: \['b'\]"):
        landmark_report(pred, reference, tmp_path / "eval", image_ids=["a", "b"], annotator="A")
    unknown = predictions(tmp_path / "unknown.csv", images=("a", "z"))
    with pytest.raises(ValueError, match=r"missing from the reference .*: \['z'\]"):
        landmark_report(unknown, reference, tmp_path / "eval", annotator="A")
    with pytest.raises(ValueError, match="no image to score"):
        landmark_report(pred, reference, tmp_path / "eval", exclude=["a"], annotator="A")
    with pytest.raises(ValueError, match="no reference"):
        landmark_report(pred, None, tmp_path / "eval")
    assert not (tmp_path / "eval").exists()  # nothing written on error
