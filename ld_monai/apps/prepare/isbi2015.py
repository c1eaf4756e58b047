# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ISBI 2015 cephalometric landmarks (Wang et al., IEEE TMI 34(9), 2015; Medical Image Analysis 31:63-76, 2016).

400 lateral cephalograms of 1935 x 2400 px at 0.1 mm/pixel, 19 landmarks placed by two doctors. Challenge split by
image number: 001-150 training, 151-300 Test1, 301-400 Test2. The reference of the published one-shot protocol
(CC2D, Yao et al., MICCAI 2021) is the mean of the two doctors.

Accepted layouts:

* ``images/NNN.png`` (any size with the original aspect ratio, e.g. the 645 x 800 copy downsampled by 3) and a
  ``landmarks.csv`` ``annotator,image_id,label,x,y`` (annotators ``senior``, ``junior``; labels ``l1``..``l19``;
  x = column, y = row, in the stored pixels, 0-based pixel centres);
* the original release: ``RawImage/*/NNN.bmp`` and ``AnnotationsByMD/400_senior/NNN.txt`` (and ``400_junior``),
  whose first 19 lines are ``x,y`` in the original bitmaps' 1-based pixel indices.

The pixel spacing is detected from each image's width (``0.1 mm x 1935 / width``: 0.3 mm for the copy downsampled
by 3) and written to every entry as ``spacing_mm``, since PNG and BMP files carry none. The datalist names the
landmark table it wrote (``landmarks``: ``out_dir/landmarks.csv`` with the annotators ``senior``, ``junior`` and
their ``mean``, in each image's own pixels) and its ``reference_annotator`` (``mean``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ld_monai.apps.prepare.common import (
    Entry,
    Prepared,
    RawFiles,
    derived_path,
    image_size,
    relative_path,
    split_off,
    usable_image,
)
from ld_monai.data.landmark_table import read_landmark_table
from ld_monai.utils import atomic_write

__all__ = ["prepare_isbi2015", "REFERENCE", "LABELS", "ORIGINAL_SIZE", "ORIGINAL_SPACING_MM", "challenge_part"]

REFERENCE = (
    "Wang C-W, Huang C-T, Lee J-H, et al. A benchmark for comparison of dental radiography analysis algorithms. "
    "Medical Image Analysis 31:63-76, 2016; Wang C-W, Huang C-T, Hsieh M-C, et al. Evaluation and comparison of "
    "anatomical landmark detection methods for cephalometric X-ray images: a grand challenge. IEEE TMI 34(9), 2015."
)
#: the 19 landmark labels (l1 sella ... l19 articulare).
LABELS: tuple[str, ...] = tuple(f"l{k}" for k in range(1, 20))
#: (width, height) of the original bitmaps.
ORIGINAL_SIZE = (1935, 2400)
#: their pixel spacing, isotropic.
ORIGINAL_SPACING_MM = 0.1
DOCTORS = ("senior", "junior")
_ASPECT_TOLERANCE = 0.01


def challenge_part(number: int) -> str:
    """``Training`` (1-150), ``Test1`` (151-300) or ``Test2`` (301-400) of an image number."""
    if 1 <= number <= 150:
        return "Training"
    if 151 <= number <= 300:
        return "Test1"
    if 301 <= number <= 400:
        return "Test2"
    raise ValueError(f"ISBI 2015 image numbers are 001-400, got {number:03d}.")


def _spacing_mm(image: Path) -> float:
    """mm per pixel of a copy of an original bitmap, from its width; ``ValueError`` for another aspect ratio."""
    width, height = image_size(image)
    scale = ORIGINAL_SIZE[0] / width
    if abs(height * scale / ORIGINAL_SIZE[1] - 1) > _ASPECT_TOLERANCE:
        raise ValueError(
            f"{image}: {width} x {height} px is not a copy of the {ORIGINAL_SIZE[0]} x {ORIGINAL_SIZE[1]} ISBI 2015 "
            "bitmaps (another aspect ratio): its pixel spacing cannot be known."
        )
    return round(ORIGINAL_SPACING_MM * scale, 6)


def _points_from_csv(table: Path) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """doctor -> image id -> label -> (x, y) of a ``landmarks.csv`` (stored pixels)."""
    return {who: read_landmark_table(table, annotator=who) for who in DOCTORS}


def _points_from_txt(files: RawFiles, spacings: Mapping[str, float]) -> dict[str, dict[str, dict[str, tuple]]]:
    """The original release's ``AnnotationsByMD/400_<doctor>/NNN.txt`` in each image's own 0-based pixels (the
    images of ``spacings``, image id -> mm per pixel)."""
    points: dict[str, dict[str, dict[str, tuple]]] = {}
    for who in DOCTORS:
        points[who] = {}
        for path in files.find("[0-9][0-9][0-9].txt", f"ISBI 2015 {who} annotations", within=(f"400_{who}",)):
            if path.stem not in spacings:
                continue
            scale = ORIGINAL_SPACING_MM / spacings[path.stem]
            lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
            coordinates = [line for line in lines if line][: len(LABELS)]
            if len(coordinates) < len(LABELS):
                raise ValueError(f"{path}: {len(coordinates)} lines of x,y, expected {len(LABELS)}.")
            entry = {}
            for label, line in zip(LABELS, coordinates):
                try:
                    x, y = (float(v) for v in line.split(","))
                except ValueError:
                    raise ValueError(f"{path}: expected 'x,y' for {label}, got {line!r}.") from None
                entry[label] = ((x - 1) * scale, (y - 1) * scale)
            points[who][path.stem] = entry
    return points


def _landmark_rows(points: Mapping[str, Mapping[str, Mapping[str, tuple]]], names: list[str], notes: list[str]):
    """Rows ``annotator,image_id,label,x,y`` of both doctors and of their mean (where both placed the point)."""
    rows: list[tuple[str, str, str, float, float]] = []
    single = 0
    for name in names:
        for label in LABELS:
            placed = {who: points[who].get(name, {}).get(label) for who in DOCTORS}
            for who, xy in placed.items():
                if xy is not None:
                    rows.append((who, name, label, *xy))
            if all(xy is not None for xy in placed.values()):
                senior, junior = placed["senior"], placed["junior"]
                rows.append(("mean", name, label, (senior[0] + junior[0]) / 2, (senior[1] + junior[1]) / 2))
            elif any(xy is not None for xy in placed.values()):
                single += 1
    if single:
        notes.append(f"{single} landmark(s) placed by one doctor only: they have no 'mean' reference.")
    unannotated = [n for n in names if not any(n in points[who] for who in DOCTORS)]
    if unannotated:
        notes.append(f"{len(unannotated)} image(s) without landmarks (e.g. {unannotated[0]}): searchable, not scored.")
    return rows


def _write_table(rows, path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("annotator", "image_id", "label", "x", "y"))
    writer.writerows((who, name, label, f"{x:.4f}", f"{y:.4f}") for who, name, label, x, y in rows)
    data = buffer.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def prepare_isbi2015(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """ISBI 2015: images, both doctors and their mean, the challenge split, the pixel spacing of each image."""
    files = RawFiles(raw_dir, exclude=out_dir)
    entries: list[Entry] = []
    for image in files.find(("[0-9][0-9][0-9].png", "[0-9][0-9][0-9].bmp"), "ISBI 2015 images (NNN.png or .bmp)"):
        part = challenge_part(int(image.stem))
        entries.append({"image": usable_image(image, derived_path(out_dir, "image", image.stem)), "name": image.stem,
                        "spacing_mm": _spacing_mm(image), "part": part})
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"several ISBI 2015 images named {twice[0]} below {raw_dir}; keep one copy of each.")
    try:
        points = _points_from_csv(files.find("landmarks.csv", "ISBI 2015 landmark table")[0])
    except FileNotFoundError:  # the original release
        points = _points_from_txt(files, {e["name"]: e["spacing_mm"] for e in entries})
    notes: list[str] = []
    rows = _landmark_rows(points, sorted(names), notes)
    table = _write_table(rows, out_dir / "landmarks.csv")
    training = [e for e in entries if e["part"] == "Training"]
    test = [e for e in entries if e["part"] != "Training"]
    for part, count in (("Training", 150), ("Test1", 150), ("Test2", 100)):
        found = sum(e["part"] == part for e in entries)
        if found != count:
            notes.append(f"found {found} {part} images; the challenge has {count}.")
    rest, validation = split_off(training, val_fraction, seed)
    spacings = sorted({e["spacing_mm"] for e in entries})
    datalist: dict[str, Any] = {
        "name": "ISBI 2015 cephalometric landmarks",
        "description": "Lateral cephalograms with 19 landmarks of two doctors (senior, junior) and their mean, the "
        f"usual reference; pixel spacing {', '.join(f'{s:g}' for s in spacings)} mm (0.1 mm x 1935 / width).",
        "reference": REFERENCE,
        "structures": [],
        "landmarks": relative_path(table, out_dir),
        "labels": list(LABELS),
        "reference_annotator": "mean",
        "split_note": "challenge: 001-150 Training, 151-300 Test1, 301-400 Test2 (test); validation = seeded "
        f"{val_fraction * 100:g}% of the training images",
        "seed": seed,
    }
    for split, items in (("training", rest), ("validation", validation), ("test", test)):
        datalist[split] = [
            {"image": relative_path(item["image"], out_dir), "name": item["name"], "spacing_mm": item["spacing_mm"],
             "part": item["part"]}
            for item in sorted(items, key=lambda e: e["name"])
        ]
    return Prepared(datalist, notes)
