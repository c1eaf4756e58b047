# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""HRF, the High-Resolution Fundus database (Budai et al., Int J Biomed Imaging 2013): 45 photographs.

Raw layout: ``images/01_h.jpg`` (15 healthy ``_h``, 15 diabetic retinopathy ``_dr``, 15 glaucoma ``_g``; ``.JPG``
accepted), ``manual1/01_h.tif`` (vessel ground truth, binarised to a derived PNG if it is not 0/255 or 0/1) and
``mask/01_h_mask.tif`` (the shipped field of view). Split as in the LD paper: the first 25 images train, the
other 20 test; the research code took them in ``os.listdir`` order, which depends on the file system, so here
the order is sorted by name.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_hrf", "REFERENCE", "NUM_TRAINING"]

REFERENCE = (
    "Budai A, Bock R, Maier A, Hornegger J, Michelson G. Robust vessel segmentation in fundus images. "
    "International Journal of Biomedical Imaging 2013:154860, 2013."
)
#: the first ``NUM_TRAINING`` images in sorted order are the training part (the LD paper's 25/20).
NUM_TRAINING = 25


def prepare_hrf(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """HRF: vessel = ``manual1``, mask = shipped FOV mask; first 25 images (sorted) training, the rest test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = files.find("*.jpg", "HRF images", within=("images",))
    labels = files.index(["*.tif", "*.tiff"], "HRF manual1 labels", lambda p: p.stem, within=("manual1",))
    masks = files.index("*_mask.tif", "HRF FOV masks", lambda p: p.name[: -len("_mask.tif")], within=("mask",))
    entries = [
        make_entry(
            out_dir,
            image.stem,
            image,
            {"vessel": require(labels, image.stem, image, "manual1 label", f"{image.stem}.tif")},
            fov=require(masks, image.stem, image, "FOV mask", f"{image.stem}_mask.tif"),
        )
        for image in sorted(images, key=lambda p: p.stem)
    ]
    datalist = make_datalist(
        out_dir,
        name="HRF",
        description="High-resolution colour fundus photographs (3504x2336) of healthy, diabetic-retinopathy and "
        "glaucoma eyes with manual vessel segmentations and the shipped field-of-view masks.",
        reference=REFERENCE,
        structures=["vessel"],
        split_note=f"no official split: the first {NUM_TRAINING} images in sorted name order are training, the "
        "others test (the LD paper's 25/20, which it took in os.listdir order)",
        seed=seed,
        val_fraction=val_fraction,
        training=entries[:NUM_TRAINING],
        test=entries[NUM_TRAINING:],
    )
    return Prepared(datalist, count_note(len(entries), 45, "HRF images"))
