# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai prepare isbi2015``: both layouts (CSV of the downsampled copy, the original release's text files),
the challenge split, the spacing from the image width, the doctors' mean; the real copy (150 training images,
0.3 mm, the doctors 2.35 mm apart on average, most on l16 as its README warns)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from ld_monai.apps.prepare import prepare_dataset
from ld_monai.apps.prepare.isbi2015 import LABELS, challenge_part
from ld_monai.data import read_landmark_table


def _image(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], 90, dtype=np.uint8)).save(path)


def _points(number: int, doctor: int) -> dict:
    """A distinct (x, y) per image, label and doctor."""
    return {label: (number + k + 0.5 * doctor, 2 * k + doctor) for k, label in enumerate(LABELS)}


def _csv_copy(root, numbers, size=(129, 160)):
    """``images/NNN.png`` (1935 x 2400 / 15: 1.5 mm/pixel) and ``landmarks.csv`` of both doctors."""
    rows = [("annotator", "image_id", "label", "x", "y")]
    for number in numbers:
        _image(root / "images" / f"{number:03d}.png", size)
        for doctor, who in enumerate(("senior", "junior")):
            rows += [(who, f"{number:03d}", label, x, y) for label, (x, y) in _points(number, doctor).items()]
    with open(root / "landmarks.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_challenge_parts():
    assert [challenge_part(n) for n in (1, 150, 151, 300, 301, 400)] == ["Training"] * 2 + ["Test1"] * 2 + ["Test2"] * 2
    with pytest.raises(ValueError, match="001-400"):
        challenge_part(401)


def test_csv_copy(tmp_path):
    _csv_copy(tmp_path / "raw", [1, 2, 3, 4, 5, 151, 301])
    notes: list[str] = []
    path = prepare_dataset("isbi2015", tmp_path / "raw", tmp_path / "out", val_fraction=0.4, notes=notes)
    datalist = json.loads(path.read_text())
    assert [len(datalist[s]) for s in ("training", "validation", "test")] == [3, 2, 2]
    assert [(e["name"], e["part"]) for e in datalist["test"]] == [("151", "Test1"), ("301", "Test2")]
    assert {e["spacing_mm"] for s in ("training", "validation", "test") for e in datalist[s]} == {1.5}
    assert datalist["labels"] == list(LABELS) and datalist["reference_annotator"] == "mean"
    assert "found 5 Training images; the challenge has 150." in notes
    table = tmp_path / "out" / datalist["landmarks"]
    senior, junior, mean = (read_landmark_table(table, annotator=who) for who in ("senior", "junior", "mean"))
    assert senior["151"]["l3"] == (153.0, 4.0) and junior["151"]["l3"] == (153.5, 5.0)
    assert mean["151"]["l3"] == (153.25, 4.5)
    assert sorted(mean) == ["001", "002", "003", "004", "005", "151", "301"]


def test_original_release(tmp_path):
    """Bitmaps at full size and 1-based text coordinates: 0-based pixel centres in the datalist's table."""
    raw = tmp_path / "raw"
    _image(raw / "RawImage" / "TrainingData" / "007.bmp", (1935, 2400))
    for doctor, who in enumerate(("senior", "junior")):
        folder = raw / "AnnotationsByMD" / f"400_{who}"
        folder.mkdir(parents=True)
        lines = [f"{int(x) + 1},{int(y) + 1}" for x, y in _points(7, 0).values()] + ["1", "2"]
        (folder / "007.txt").write_text("\n".join(lines) + "\n")
    path = prepare_dataset("isbi2015", raw, tmp_path / "out", val_fraction=0.0)
    datalist = json.loads(path.read_text())
    (entry,) = datalist["training"]
    assert entry["spacing_mm"] == 0.1 and entry["image"].endswith("007.bmp")
    mean = read_landmark_table(tmp_path / "out" / "landmarks.csv", annotator="mean")
    assert mean["007"]["l1"] == (7.0, 0.0) and mean["007"]["l19"] == (7.0 + 18, 36.0)


def test_errors(tmp_path):
    _csv_copy(tmp_path / "raw", [1], size=(200, 160))
    with pytest.raises(ValueError, match="another aspect ratio"):
        prepare_dataset("isbi2015", tmp_path / "raw", tmp_path / "out")
    _image(tmp_path / "bare" / "images" / "001.png", (129, 160))
    with pytest.raises(FileNotFoundError, match="senior annotations"):
        prepare_dataset("isbi2015", tmp_path / "bare", tmp_path / "out2")


def test_real_copy(data_dir, tmp_path):
    path = prepare_dataset("isbi2015", data_dir / "ceph" / "ISBI2015", tmp_path)
    datalist = json.loads(path.read_text())
    items = datalist["training"] + datalist["validation"]
    assert len(items) == 150 and datalist["test"] == [] and {e["spacing_mm"] for e in items} == {0.3}
    table = tmp_path / datalist["landmarks"]
    names = sorted(e["name"] for e in items)
    senior, junior, mean = (read_landmark_table(table, annotator=who) for who in ("senior", "junior", "mean"))
    a = np.array([[senior[n][label] for label in LABELS] for n in names])
    b = np.array([[junior[n][label] for label in LABELS] for n in names])
    m = np.array([[mean[n][label] for label in LABELS] for n in names])
    np.testing.assert_allclose(m, (a + b) / 2, atol=1e-4)
    per_landmark_mm = np.linalg.norm(a - b, axis=-1).mean(0) * 0.3
    # the README's 2.15 mm (l16: 6.57) is over all 400 images; on these 150 the senior's l16 is further off
    assert per_landmark_mm.mean() == pytest.approx(2.35, abs=0.01)
    assert per_landmark_mm.argmax() == 15 and per_landmark_mm[15] == pytest.approx(9.2, abs=0.01)
