# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Score a predicted ``landmarks.csv`` against reference landmarks: MRE and SDR, overall and per landmark.

The scores of cephalometric landmark detection (Wang et al., ISBI 2015 challenge), as reported for LD's one-shot
landmarks (Chen et al., arXiv 2108.09440): radial errors in pixels for every image and, for the images whose
prediction has mm columns (a DICOM with PixelSpacing, a NIfTI), in mm with the success detection rates at
2, 2.5, 3 and 4 mm.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence

import numpy as np

from ld_monai.data.landmark_table import LANDMARK_CSV_COLUMNS, landmark_array, read_landmark_table
from ld_monai.metrics.landmarks import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.utils import atomic_write

__all__ = ["landmark_report"]


def _prediction_spacing(path: str | os.PathLike) -> dict[str, tuple[float, float]]:
    """(x, y) mm per pixel of each image of a ``landmarks.csv`` with mm cells, as the least-squares ratio mm / px
    (exact for ``mm = px x spacing``)."""
    pairs: dict[str, list[tuple[float, float, float, float]]] = {}
    blank: set[str] = set()
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if set(reader.fieldnames or []) != set(LANDMARK_CSV_COLUMNS):
            raise ValueError(f"predictions {path} must have the columns {list(LANDMARK_CSV_COLUMNS)}, got "
                             f"{reader.fieldnames}.")
        for row in reader:
            if row["x_mm"].strip() and row["y_mm"].strip():
                values = tuple(float(row[c]) for c in ("x_px", "y_px", "x_mm", "y_mm"))
                pairs.setdefault(row["image"], []).append(values)
            else:
                blank.add(row["image"])
    mixed = sorted(blank & set(pairs))
    if mixed:
        raise ValueError(f"predictions {path}: images {mixed} have mm coordinates on some rows only.")
    spacing = {}
    for image, values in pairs.items():
        v = np.asarray(values)
        sx, sy = ((v[:, 2] * v[:, 0]).sum() / (v[:, 0] ** 2).sum(), (v[:, 3] * v[:, 1]).sum() / (v[:, 1] ** 2).sum())
        if not (math.isfinite(sx) and math.isfinite(sy) and sx > 0 and sy > 0):
            raise ValueError(f"predictions {path}: cannot tell the pixel spacing of image {image!r} from its mm cells.")
        spacing[image] = (float(sx), float(sy))
    return spacing


def _number(value: float) -> float | None:
    """JSON has no NaN: an undefined score is null."""
    return None if math.isnan(value) else float(value)


def _scores(errors: np.ndarray, labels: Sequence[str], radii: Sequence[float]) -> dict:
    """MRE summary and SDR of radial errors (N, K), overall and per landmark."""
    mre = mean_radial_error(errors)
    sdr = success_detection_rates(errors, radii)
    counts = (~np.isnan(errors)).sum(axis=0)
    return {
        "num_images": int(errors.shape[0]),
        "num_points": mre["num_points"],
        "mre": _number(mre["mre"]),
        "std": _number(mre["std"]),
        "median": _number(mre["median"]),
        "sdr": {f"{r:g}": _number(v) for r, v in sdr["overall"].items()},
        "per_landmark": {
            label: {
                "num_points": int(counts[k]),
                "mre": _number(mre["per_landmark"][k]),
                "sdr": {f"{r:g}": _number(v[k]) for r, v in sdr["per_landmark"].items()},
            }
            for k, label in enumerate(labels)
        },
    }


def _per_landmark_table(summary: dict) -> bytes:
    """``metrics_per_landmark.csv``: one row per label and a last row ``all``; empty cells for undefined scores."""
    units = [u for u in ("px", "mm") if summary.get(u)]
    header = ["label"]
    for unit in units:
        header += [f"num_points_{unit}", f"mre_{unit}"] + [f"sdr_{unit}_{r}" for r in summary[unit]["sdr"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for label in summary["labels"] + ["all"]:
        row = [label]
        for unit in units:
            scores = summary[unit] if label == "all" else summary[unit]["per_landmark"][label]
            row += [scores["num_points"], scores["mre"]] + list(scores["sdr"].values())
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode("utf-8")


def landmark_report(
    predictions: str | os.PathLike,
    reference: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    image_ids: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    annotator: str | None = None,
    duplicates: str = "error",
    radii_px: Sequence[float] = (10, 20, 30, 40),
    radii_mm: Sequence[float] = (2, 2.5, 3, 4),
) -> dict:
    """Compare a predicted ``landmarks.csv`` (:func:`ld_monai.apps.landmark_detection.detect_landmarks`) with a reference table
    and write ``output_dir/metrics_summary.json`` and ``output_dir/metrics_per_landmark.csv``.

    Errors are scored for the prediction's labels. Always in pixels (MRE mean, std, median; SDR at ``radii_px``);
    in addition in mm (SDR at ``radii_mm``) over the images whose prediction has mm columns, their spacing being
    mm / px of those columns. A landmark missing from the reference (e.g. dropped by ``duplicates="drop"``) is not
    scored (``num_points`` counts the scored ones). Rates are fractions in [0, 1]; undefined scores are null.

    Args:
        predictions: the predicted ``landmarks.csv``.
        reference: a table read by :func:`ld_monai.data.read_landmark_table` (``image_id,label,x,y[,annotator]``)
            with ``annotator`` and ``duplicates``.
        output_dir: where the two files go (written atomically).
        image_ids: the images to score; default: those of ``predictions``.
        exclude: images not scored (e.g. the template).
        radii_px: SDR radii in pixels.
        radii_mm: SDR radii in mm (files with a pixel spacing).

    Returns:
        the summary: ``num_images_expected``, ``num_images_scored``, ``labels``, ``px`` and ``mm`` (null without
        mm columns), each ``{num_images, num_points, mre, std, median, sdr: {radius: rate}, per_landmark:
        {label: {num_points, mre, sdr}}}``, plus the inputs.

    Raises:
        ValueError: no reference, no image to score, or images missing from the prediction or the reference (all
            listed): a partial prediction is an error, not a smaller test set.
    """
    if reference is None:
        raise ValueError("no reference landmark table: set reference_landmarks.")
    predicted = read_landmark_table(predictions, image_column="image", x_column="x_px", y_column="y_px",
                                    annotator_column=None)
    spacing = _prediction_spacing(predictions)
    truth = read_landmark_table(reference, annotator=annotator, duplicates=duplicates)
    excluded = {str(i) for i in exclude}
    expected = list(dict.fromkeys(str(i) for i in (predicted if image_ids is None else image_ids)))
    expected = [i for i in expected if i not in excluded]
    if not expected:
        raise ValueError(f"no image to score in {predictions} (excluded: {sorted(excluded)}).")
    missing = {what: [i for i in expected if i not in table]
               for what, table in ((f"prediction {predictions}", predicted), (f"reference {reference}", truth))}
    if any(missing.values()):
        raise ValueError("images missing from the " + "; from the ".join(
            f"{what}: {ids}" for what, ids in missing.items() if ids) + ".")
    labels = list(dict.fromkeys(label for i in expected for label in predicted[i]))
    pred, true = landmark_array(predicted, expected, labels), landmark_array(truth, expected, labels)
    summary = {
        "predictions": os.fspath(predictions),
        "reference": os.fspath(reference),
        "annotator": annotator,
        "excluded": sorted(excluded),
        "num_images_expected": len(expected),
        "num_images_scored": len(expected),
        "labels": labels,
        "px": _scores(radial_errors(pred, true), labels, radii_px),
        "mm": None,
    }
    with_mm = [n for n, i in enumerate(expected) if i in spacing]
    if with_mm:
        errors = radial_errors(pred[with_mm], true[with_mm], spacing=[spacing[expected[n]] for n in with_mm])
        summary["mm"] = _scores(errors, labels, radii_mm)
    text = json.dumps(summary, indent=2).encode("utf-8")
    atomic_write(os.path.join(output_dir, "metrics_summary.json"), lambda f: f.write(text))
    table = _per_landmark_table(summary)
    atomic_write(os.path.join(output_dir, "metrics_per_landmark.csv"), lambda f: f.write(table))
    return summary
