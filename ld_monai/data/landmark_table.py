# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Landmark tables: read annotated (x, y) points from a CSV, stack them as arrays, write predictions.

The reader takes one row per point. Column names are arguments, so one function reads, for example:

* the Hamedan cephalograms' long table ``annotator,image_id,label,x,y`` (the defaults; pick one annotator);
* the Drishti-GS1 ``index.csv`` (one disc centre per image):
  ``read_landmark_table(path, image_column="image", label_column=None, x_column="disc_center_x",
  y_column="disc_center_y", default_label="disc_center")``;
* the predictions written by :func:`write_landmarks_csv`: ``image_column="image", x_column="x_px",
  y_column="y_px"``.

Coordinates are (x, y) in pixels, x = column, y = row, as floats; a missing landmark is NaN in arrays.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ld_monai.utils import atomic_write

__all__ = ["read_landmark_table", "landmark_array", "write_landmarks_csv", "LANDMARK_CSV_COLUMNS"]

LANDMARK_CSV_COLUMNS = ("image", "label", "x_px", "y_px", "x_mm", "y_mm", "confidence")
_DUPLICATE_POLICIES = ("error", "first", "mean", "drop")


def read_landmark_table(
    path: str | os.PathLike,
    annotator: str | None = None,
    image_column: str = "image_id",
    label_column: str | None = "label",
    x_column: str = "x",
    y_column: str = "y",
    annotator_column: str | None = "annotator",
    duplicates: str = "error",
    default_label: str = "landmark",
) -> dict[str, dict[str, tuple[float, float]]]:
    """Points of a CSV table (one row per point) as ``{image id: {label: (x, y)}}``.

    Args:
        path: CSV file with a header row.
        annotator: keep only the rows of this annotator (``annotator_column``); ``ValueError`` listing the
            annotators of the file when it has none of that name. ``None`` reads every row, and then the file
            must not name several annotators.
        image_column: the column of the image ids (they stay strings: ``"001"`` keeps its zeros).
        label_column: the column of the labels (strings); ``None``: one point per image, labelled ``default_label``.
        x_column: the column of x.
        y_column: the column of y.
        annotator_column: column naming the annotator; ``None`` (or absent from the file while ``annotator`` is
            ``None``) when the file has a single annotator.
        duplicates: what to do when one (image, label) appears on several rows (of the selected annotator):
            ``"error"`` (default) raises a ``ValueError`` naming the file, image, label and lines; ``"first"``
            keeps the first row; ``"mean"`` averages the rows; ``"drop"`` leaves that landmark out (missing,
            NaN in :func:`landmark_array`), which is the safe choice when a repeated label is a mislabelled
            other landmark.
        default_label: label of every point when ``label_column`` is ``None``.

    Returns:
        dict image id -> dict label -> (x, y) floats, in the order of first appearance in the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: missing column, unknown annotator, several annotators without ``annotator``, repeated
            (image, label) with ``duplicates="error"``, non-numeric or non-finite coordinate (with file and line).
    """
    if duplicates not in _DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {_DUPLICATE_POLICIES}, got {duplicates!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"landmark table {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        if annotator_column is not None and annotator_column not in header and annotator is None:
            annotator_column = None  # a single-annotator file
        required = [image_column, x_column, y_column]
        required += [c for c in (label_column, annotator_column) if c is not None]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"landmark table {path} has no column {missing} (its header: {header}).")
        points: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        annotators: list[str] = []
        for row in reader:
            line = reader.line_num
            if annotator_column is not None:
                who = (row[annotator_column] or "").strip()
                if who not in annotators:
                    annotators.append(who)
                if annotator is not None and who != annotator:
                    continue
            image = (row[image_column] or "").strip()
            label = default_label if label_column is None else (row[label_column] or "").strip()
            if not image or not label:
                raise ValueError(f"landmark table {path}, line {line}: empty {image_column!r} or label column.")
            xy = []
            for column in (x_column, y_column):
                text = (row[column] or "").strip()
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise ValueError(
                        f"landmark table {path}, line {line}: {column!r} must be a finite number, got {text!r}."
                    )
                xy.append(value)
            points.setdefault((image, label), []).append((xy[0], xy[1], line))
    if annotator is not None and annotator not in annotators:
        raise ValueError(f"landmark table {path} has no annotator {annotator!r}; it has {annotators}.")
    if annotator is None and len(annotators) > 1:
        raise ValueError(
            f"landmark table {path} has several annotators {annotators}: choose one with annotator=..."
        )
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for (image, label), rows in points.items():
        entry = table.setdefault(image, {})
        if len(rows) == 1:
            entry[label] = rows[0][:2]
        elif duplicates == "error":
            lines = [r[2] for r in rows]
            who = f" (annotator {annotator!r})" if annotator is not None else ""
            raise ValueError(
                f"landmark table {path}{who}: image {image!r} has label {label!r} {len(rows)} times (lines {lines}); "
                "pass duplicates='first', 'mean' or 'drop'."
            )
        elif duplicates == "first":
            entry[label] = rows[0][:2]
        elif duplicates == "mean":
            entry[label] = (float(np.mean([r[0] for r in rows])), float(np.mean([r[1] for r in rows])))
    return table


def landmark_array(
    table: Mapping[str, Mapping[str, Sequence[float]]], image_ids: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """Points of ``table`` (from :func:`read_landmark_table`) as a float64 array (N, K, 2) of (x, y).

    Row ``n`` is ``image_ids[n]``, column ``k`` is ``labels[k]``; a missing image or label gives NaN.
    """
    out = np.full((len(image_ids), len(labels), 2), np.nan, dtype=np.float64)
    for n, image in enumerate(image_ids):
        entry = table.get(image, {})
        for k, label in enumerate(labels):
            if label in entry:
                out[n, k] = entry[label]
    return out


def _cell(value, what: str, required: bool) -> str:
    if value is None:
        if required:
            raise ValueError(f"landmark row: {what} is required, got None.")
        return ""
    try:
        return repr(float(value))
    except (TypeError, ValueError) as e:
        allowed = "a number" if required else "a number or None"
        raise ValueError(f"landmark row: {what} must be {allowed}, got {value!r}.") from e


def write_landmarks_csv(path: str | os.PathLike, rows: Iterable[Mapping]) -> Path:
    """Write landmark predictions as a CSV with the fixed header ``image,label,x_px,y_px,x_mm,y_mm,confidence``.

    Args:
        path: destination; written atomically (:func:`ld_monai.utils.atomic_write`), parents created.
        rows: dicts with exactly the keys of the header. ``x_px``/``y_px`` are numbers (NaN is written as
            ``nan``); ``x_mm``, ``y_mm`` and ``confidence`` may be ``None`` (empty cell).

    Returns:
        the destination as a :class:`pathlib.Path`.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LANDMARK_CSV_COLUMNS)
    for index, row in enumerate(rows):
        keys = set(row)
        if keys != set(LANDMARK_CSV_COLUMNS):
            raise ValueError(
                f"landmark row {index} must have the keys {list(LANDMARK_CSV_COLUMNS)}; missing "
                f"{sorted(set(LANDMARK_CSV_COLUMNS) - keys)}, unexpected {sorted(keys - set(LANDMARK_CSV_COLUMNS))}."
            )
        writer.writerow(
            [
                str(row["image"]),
                str(row["label"]),
                _cell(row["x_px"], f"row {index} x_px", True),
                _cell(row["y_px"], f"row {index} y_px", True),
                _cell(row["x_mm"], f"row {index} x_mm", False),
                _cell(row["y_mm"], f"row {index} y_mm", False),
                _cell(row["confidence"], f"row {index} confidence", False),
            ]
        )
    data = buffer.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))
