# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""CHASE_DB1 retinal vessel segmentation (Fraz et al., IEEE TBME 2012): 28 photographs of 14 children.

Raw layout: ``Image_01L.jpg``, ``Image_01L_1stHO.png`` (1st observer, the ground truth) and ``Image_01L_2ndHO.png``
in one folder, or in sub-folders such as ``images/`` and ``manual/`` (searched recursively). No field-of-view
masks ship: they are derived. Split as in the LD paper: the first 20 images in sorted order (children 01-10)
train, the last 8 (children 11-14) test.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_chase_db1", "REFERENCE", "NUM_TRAINING"]

REFERENCE = (
    "Fraz MM, Remagnino P, Hoppe A, Uyyanonvara B, Rudnicka AR, Owen CG, Barman SA. An ensemble "
    "classification-based approach applied to retinal blood vessel segmentation. IEEE Transactions on "
    "Biomedical Engineering 59(9):2538-2548, 2012."
)
#: the first ``NUM_TRAINING`` images in sorted order are the training part (the LD paper's 20/8).
NUM_TRAINING = 20


def prepare_chase_db1(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """CHASE_DB1: vessel = ``_1stHO``, derived FOV masks; first 20 images training, last 8 test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = files.find("Image_*.jpg", "CHASE_DB1 images")
    labels = files.index("Image_*_1stHO.png", "CHASE_DB1 1st-observer labels", lambda p: p.name[: -len("_1stHO.png")])
    entries = [
        make_entry(
            out_dir,
            image.stem,
            image,
            {"vessel": require(labels, image.stem, image, "1st-observer label", f"{image.stem}_1stHO.png")},
            fov=True,
        )
        for image in sorted(images, key=lambda p: p.stem)
    ]
    datalist = make_datalist(
        out_dir,
        name="CHASE_DB1",
        description="Colour fundus photographs (999x960) of both eyes of 14 children with manual vessel "
        "segmentations (1st observer); field-of-view masks derived (any channel > 20, largest 8-connected "
        "component, holes filled).",
        reference=REFERENCE,
        structures=["vessel"],
        split_note=f"no official split: the first {NUM_TRAINING} images in sorted order (children 01-10) are "
        "training, the others (children 11-14) test (the LD paper's 20/8)",
        seed=seed,
        val_fraction=val_fraction,
        training=entries[:NUM_TRAINING],
        test=entries[NUM_TRAINING:],
    )
    return Prepared(datalist, count_note(len(entries), 28, "CHASE_DB1 images"))
