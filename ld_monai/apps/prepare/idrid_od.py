# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""IDRiD optic disc segmentation (Porwal et al., Data 2018): part "A. Segmentation", official 54/27 split.

Raw layout (below any prefix such as ``A. Segmentation/``): ``1. Original Images/a. Training Set/IDRiD_01.jpg``,
``1. Original Images/b. Testing Set/IDRiD_55.jpg``, ``2. All Segmentation Groundtruths/a. Training Set/5. Optic
Disc/IDRiD_01_OD.tif`` (and ``b. Testing Set``). The optic-disc TIFFs are binarised to derived PNGs when they
are not one channel of 0/255 or 0/1 (the release stores them in colour). Field-of-view masks are derived.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_idrid_od", "REFERENCE"]

REFERENCE = (
    "Porwal P, Pachade S, Kamble R, Kokare M, Deshmukh G, Sahasrabuddhe V, Meriaudeau F. Indian Diabetic "
    "Retinopathy Image Dataset (IDRiD): a database for diabetic retinopathy screening research. Data 3(3):25, 2018."
)

_OFFICIAL = {"training": ("a. Training Set", 54), "test": ("b. Testing Set", 27)}


def prepare_idrid_od(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """IDRiD: disc = ``5. Optic Disc`` ground truth, derived FOV masks; official training / testing sets."""
    files = RawFiles(raw_dir, exclude=out_dir)
    parts: dict[str, list] = {}
    notes: list[str] = []
    for part, (folder, expected) in _OFFICIAL.items():
        discs = files.index(
            "IDRiD_*_OD.tif",
            f"IDRiD {folder} optic-disc ground truths",
            lambda p: p.name[: -len("_OD.tif")],
            within=("2. All Segmentation Groundtruths", folder, "5. Optic Disc"),
        )
        # two-digit names: the grading and localisation parts use the same folder names with 3-digit ones
        images = files.find("IDRiD_[0-9][0-9].jpg", f"IDRiD {folder} images", within=("1. Original Images", folder))
        parts[part] = []
        for image in images:
            disc = require(discs, image.stem, image, "optic-disc ground truth", f"{image.stem}_OD.tif")
            parts[part].append(make_entry(out_dir, image.stem, image, {"disc": disc}, fov=True))
        notes += count_note(len(parts[part]), expected, f"IDRiD {folder} images")
    datalist = make_datalist(
        out_dir,
        name="IDRiD (optic disc)",
        description="Colour fundus photographs (4288x2848) of the IDRiD segmentation part with optic-disc "
        "segmentations; field-of-view masks derived (any channel > 20, largest 8-connected component, holes "
        "filled).",
        reference=REFERENCE,
        structures=["disc"],
        split_note="official: a. Training Set 54, b. Testing Set 27",
        seed=seed,
        val_fraction=val_fraction,
        training=parts["training"],
        test=parts["test"],
    )
    return Prepared(datalist, notes)
