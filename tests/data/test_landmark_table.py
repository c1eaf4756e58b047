# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.data.landmark_table: reading landmark CSVs (toy, Hamedan, Drishti-GS1), arrays, writing."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from ld_monai.data import landmark_array, read_landmark_table, write_landmarks_csv
from ld_monai.metrics import mean_radial_error, radial_errors

HAMEDAN_LABELS = [f"l{i}" for i in range(1, 20)]

TOY = """annotator,image_id,label,x,y
A,001,l1,1.5,2.0
A,001,l2,3,4
A,002,l1,10,20
A,002,l1,12,24
B,001,l1,0,0
"""


def _write(tmp_path, text, name="landmarks.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_one_annotator_keeps_ids_as_strings(tmp_path):
    path = _write(tmp_path, TOY)
    table = read_landmark_table(path, annotator="B")
    assert table == {"001": {"l1": (0.0, 0.0)}}
    with pytest.raises(ValueError, match="several annotators") as error:
        read_landmark_table(path)
    assert "'A'" in str(error.value) and "'B'" in str(error.value)


def test_unknown_annotator_lists_the_existing_ones(tmp_path):
    path = _write(tmp_path, TOY)
    with pytest.raises(ValueError, match=r"no annotator 'C'; it has \['A', 'B'\]"):
        read_landmark_table(path, annotator="C")


def test_duplicates_error_first_mean_drop(tmp_path):
    path = _write(tmp_path, TOY)
    with pytest.raises(ValueError) as error:
        read_landmark_table(path, annotator="A")
    message = str(error.value)
    assert str(path) in message and "'002'" in message and "'l1'" in message and "lines [4, 5]" in message
    assert read_landmark_table(path, "A", duplicates="first")["002"] == {"l1": (10.0, 20.0)}
    assert read_landmark_table(path, "A", duplicates="mean")["002"] == {"l1": (11.0, 22.0)}
    dropped = read_landmark_table(path, "A", duplicates="drop")
    assert dropped == {"001": {"l1": (1.5, 2.0), "l2": (3.0, 4.0)}, "002": {}}
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read_landmark_table(path, "A", duplicates="last")


def test_bad_coordinates_name_file_and_line(tmp_path):
    path = _write(tmp_path, "image_id,label,x,y\n001,l1,1,2\n001,l2,abc,2\n")
    with pytest.raises(ValueError, match=r"landmarks.csv, line 3: 'x' must be a finite number, got 'abc'"):
        read_landmark_table(path)
    path = _write(tmp_path, "image_id,label,x,y\n001,l1,1,nan\n")
    with pytest.raises(ValueError, match=r"line 2: 'y'"):
        read_landmark_table(path)
    path = _write(tmp_path, "image_id,label,x,y\n001,l1,1,\n")
    with pytest.raises(ValueError, match=r"line 2: 'y' must be a finite number, got ''"):
        read_landmark_table(path)


def test_missing_columns_and_file(tmp_path):
    path = _write(tmp_path, "image_id,label,col,row\n001,l1,1,2\n")
    with pytest.raises(ValueError, match=r"no column \['x', 'y'\]"):
        read_landmark_table(path)
    # without an annotator column, asking for an annotator is an error
    with pytest.raises(ValueError, match=r"no column \['annotator'\]"):
        read_landmark_table(path, annotator="A", x_column="col", y_column="row")
    assert read_landmark_table(path, x_column="col", y_column="row") == {"001": {"l1": (1.0, 2.0)}}
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        read_landmark_table(tmp_path / "gone.csv")


def test_landmark_array_nan_where_missing():
    table = {"a": {"l1": (1.0, 2.0), "l2": (3.0, 4.0)}, "b": {"l2": (5.0, 6.0)}}
    array = landmark_array(table, ["a", "b", "c"], ["l1", "l2"])
    assert array.shape == (3, 2, 2) and array.dtype == np.float64
    np.testing.assert_array_equal(array[0], [[1, 2], [3, 4]])
    assert np.isnan(array[1, 0]).all() and np.isnan(array[2]).all()
    np.testing.assert_array_equal(array[1, 1], [5, 6])


def test_write_landmarks_csv_round_trip(tmp_path):
    rows = [
        {"image": "001", "label": "l1", "x_px": 10.25, "y_px": np.float64(20.5), "x_mm": 1.025, "y_mm": 2.05,
         "confidence": 0.875},
        {"image": "002", "label": "l1", "x_px": 3, "y_px": 4, "x_mm": None, "y_mm": None, "confidence": 0.5},
    ]
    path = write_landmarks_csv(tmp_path / "out" / "pred.csv", rows)
    lines = path.read_text().splitlines()
    assert lines == ["image,label,x_px,y_px,x_mm,y_mm,confidence", "001,l1,10.25,20.5,1.025,2.05,0.875",
                     "002,l1,3.0,4.0,,,0.5"]
    assert [p.name for p in path.parent.iterdir()] == ["pred.csv"]  # no temporary file left
    table = read_landmark_table(path, image_column="image", x_column="x_px", y_column="y_px")
    assert table == {"001": {"l1": (10.25, 20.5)}, "002": {"l1": (3.0, 4.0)}}
    with pytest.raises(ValueError, match=r"missing \['confidence'\], unexpected \['score'\]"):
        renamed = {k: v for k, v in rows[1].items() if k != "confidence"}
        write_landmarks_csv(path, [{**renamed, "score": 1.0}])
    with pytest.raises(ValueError, match="x_px must be a number"):
        write_landmarks_csv(path, [{**rows[1], "x_px": "left"}])
    assert path.read_text().splitlines() == lines  # a failed write leaves the old file untouched


def test_hamedan_annotators(data_dir):
    path = data_dir / "ceph" / "Hamedan" / "landmarks.csv"
    # both annotators repeat a label somewhere, so the default raises for each
    for annotator, image, label in [("Dr_farhadifar", "002", "l17"), ("Dr_mollabashi", "002", "l11")]:
        with pytest.raises(ValueError, match=f"image '{image}' has label '{label}' 2 times"):
            read_landmark_table(path, annotator=annotator)
    first = read_landmark_table(path, annotator="Dr_farhadifar", duplicates="first")
    assert len(first) == 100 and sum(len(points) for points in first.values()) == 100 * 19 - 1
    # Dr_farhadifar's image 002: l17 twice, no l18 (the second l17 is at Dr_mollabashi's l18)
    assert sorted(set(HAMEDAN_LABELS) - set(first["002"])) == ["l18"]
    assert all(len(first[image]) == 19 for image in first if image != "002")
    ids = sorted(first)
    assert ids[0] == "001" and ids[-1] == "150"  # 100 ids in 001..150, not 001..100
    second = read_landmark_table(path, annotator="Dr_mollabashi", duplicates="first")
    assert sorted(second) == ids and all(len(points) == 19 for points in second.values())

    farhadifar = landmark_array(read_landmark_table(path, "Dr_farhadifar", duplicates="drop"), ids, HAMEDAN_LABELS)
    mollabashi = landmark_array(read_landmark_table(path, "Dr_mollabashi", duplicates="drop"), ids, HAMEDAN_LABELS)
    complete = ~(np.isnan(farhadifar).any(axis=(1, 2)) | np.isnan(mollabashi).any(axis=(1, 2)))
    assert [i for i, ok in zip(ids, complete) if not ok] == ["002", "009", "010", "064", "098", "140"]
    summary = mean_radial_error(radial_errors(farhadifar[complete], mollabashi[complete]))
    print(f"Hamedan inter-annotator MRE on {complete.sum()} images: {summary['mre']:.3f} px "
          f"(std {summary['std']:.3f}, median {summary['median']:.3f})")
    assert summary["num_points"] == 94 * 19
    assert math.isfinite(summary["mre"]) and 3.0 < summary["mre"] < 12.0
    assert summary["mre"] == pytest.approx(6.99, abs=0.01)


def test_drishti_disc_centres(data_dir):
    path = data_dir / "fundus" / "Drishti-GS1" / "index.csv"
    table = read_landmark_table(
        path, image_column="image", label_column=None, x_column="disc_center_x", y_column="disc_center_y",
        default_label="disc_center",
    )
    with open(path, newline="") as f:
        first_row = next(csv.DictReader(f))
    assert len(table) == 101
    expected = (float(first_row["disc_center_x"]), float(first_row["disc_center_y"]))
    assert table[first_row["image"]] == {"disc_center": expected}
    centres = landmark_array(table, sorted(table), ["disc_center"])
    assert not np.isnan(centres).any() and (centres >= 0).all() and (centres[..., 0] < 640).all()
