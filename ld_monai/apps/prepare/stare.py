# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""STARE retinal vessel segmentation (Hoover et al., IEEE TMI 2000): 20 photographs, no official split.

Raw layout: ``stare-images/im0001.png`` (the download's ``.ppm`` or ``.ppm.gz`` are accepted and converted to
PNG under ``derived/image/``) and ``labels-ah/im0001.ah.png`` (Hoover's labels, the usual ground truth; ``.ppm``
and ``.ppm.gz`` accepted). STARE ships no field-of-view masks: they are derived. Split as in the LD paper: the
first ten ids (sorted) train, the other ten test.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_stare", "REFERENCE", "NUM_TRAINING"]

REFERENCE = (
    "Hoover A, Kouznetsova V, Goldbaum M. Locating blood vessels in retinal images by piecewise threshold probing "
    "of a matched filter response. IEEE Transactions on Medical Imaging 19(3):203-210, 2000."
)
#: the first ``NUM_TRAINING`` ids in sorted order are the training part (the LD paper's 10/10).
NUM_TRAINING = 10

_EXTENSIONS = (".png", ".ppm", ".ppm.gz")


def _id(path: Path) -> str:
    """``"im0001"`` of ``im0001.png`` and ``im0001.ah.ppm.gz``."""
    return path.name.split(".")[0]


def prepare_stare(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """STARE: vessel = ``labels-ah``, derived FOV masks; first ten ids training, the rest test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = files.find([f"im[0-9][0-9][0-9][0-9]{ext}" for ext in _EXTENSIONS], "STARE images (stare-images)")
    labels = files.index([f"im*.ah{ext}" for ext in _EXTENSIONS], "STARE labels-ah", _id)
    entries = [
        make_entry(
            out_dir,
            _id(image),
            image,
            {"vessel": require(labels, _id(image), image, "labels-ah label", f"{_id(image)}.ah.png")},
            fov=True,
        )
        for image in sorted(images, key=_id)
    ]
    datalist = make_datalist(
        out_dir,
        name="STARE",
        description="Colour fundus photographs (700x605) with manual vessel segmentations by A. Hoover (labels-ah); "
        "field-of-view masks derived (any channel > 20, largest 8-connected component, holes filled).",
        reference=REFERENCE,
        structures=["vessel"],
        split_note=f"no official split: the first {NUM_TRAINING} ids in sorted order are training, the others "
        "test (the LD paper's 10/10)",
        seed=seed,
        val_fraction=val_fraction,
        training=entries[:NUM_TRAINING],
        test=entries[NUM_TRAINING:],
    )
    return Prepared(datalist, count_note(len(entries), 20, "STARE images"))
