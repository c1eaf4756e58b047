# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""DRIVE retinal vessel segmentation (Staal et al., IEEE TMI 2004): 40 photographs, official 20/20 split.

Raw layout: ``training/images/21_training.tif``, ``training/1st_manual/21_manual1.gif``,
``training/mask/21_training_mask.gif`` and the same under ``test/`` (``01_test.tif``, ...). Ground truth:
``1st_manual``; field of view: the shipped masks. Nothing is derived when the files are the original ones.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_drive", "REFERENCE"]

REFERENCE = (
    "Staal J, Abramoff MD, Niemeijer M, Viergever MA, van Ginneken B. Ridge-based vessel segmentation in color "
    "images of the retina. IEEE Transactions on Medical Imaging 23(4):501-509, 2004."
)


def _number(path: Path) -> str:
    """``"21"`` of ``21_training.tif``, ``21_manual1.gif`` and ``21_training_mask.gif``."""
    return path.name.split("_")[0]


def prepare_drive(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """DRIVE: vessel = ``1st_manual``, mask = shipped FOV mask; official training (21-40) / test (01-20)."""
    files = RawFiles(raw_dir, exclude=out_dir)
    parts: dict[str, list] = {}
    notes: list[str] = []
    for part in ("training", "test"):
        labels = files.index("*_manual1.gif", f"DRIVE {part} labels", _number, within=(part, "1st_manual"))
        masks = files.index(f"*_{part}_mask.gif", f"DRIVE {part} FOV masks", _number, within=(part, "mask"))
        parts[part] = []
        for image in files.find(f"*_{part}.tif", f"DRIVE {part} images", within=(part, "images")):
            number = _number(image)
            label = require(labels, number, image, "1st_manual label", f"{number}_manual1.gif")
            mask = require(masks, number, image, "FOV mask", f"{number}_{part}_mask.gif")
            parts[part].append(make_entry(out_dir, f"{number}_{part}", image, {"vessel": label}, fov=mask))
        notes += count_note(len(parts[part]), 20, f"DRIVE {part} images")
    datalist = make_datalist(
        out_dir,
        name="DRIVE",
        description="Colour fundus photographs (565x584) with manual vessel segmentations (1st observer) and the "
        "shipped field-of-view masks.",
        reference=REFERENCE,
        structures=["vessel"],
        split_note="official: training 21-40, test 01-20",
        seed=seed,
        val_fraction=val_fraction,
        training=parts["training"],
        test=parts["test"],
    )
    return Prepared(datalist, notes)
