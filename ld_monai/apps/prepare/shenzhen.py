# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Shenzhen chest X-ray set (Jaeger et al., Quant Imaging Med Surg 2014) with the lung masks of Stirenko et al.

Raw layout: ``CXR_png/CHNCXR_0001_0.png`` and ``mask/CHNCXR_0001_0_mask.png`` (searched recursively). Only a
subset of the 662 images has a mask (566 in the usual release): images without one are left out and counted.
No official split: a seeded 20% of the images (``numpy.random.RandomState(0)``, the same for every ``seed``) is the
test set.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import (
    TEST_SPLIT_SEED,
    Prepared,
    RawFiles,
    make_datalist,
    make_entry,
    split_off,
)

__all__ = ["prepare_shenzhen", "REFERENCE", "TEST_FRACTION"]

REFERENCE = (
    "Jaeger S, Candemir S, Antani S, Wang YXJ, Lu PX, Thoma G. Two public chest X-ray datasets for computer-aided "
    "screening of pulmonary diseases. Quantitative Imaging in Medicine and Surgery 4(6):475-477, 2014; lung masks: "
    "Stirenko S, Kochura Y, Alienin O, et al. Chest X-ray analysis of tuberculosis by deep learning with "
    "segmentation and augmentation. IEEE ELNANO 2018, 422-428."
)
#: fraction of the images in the test set.
TEST_FRACTION = 0.2


def prepare_shenzhen(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """Shenzhen: lung masks where they exist (images without one are skipped); seeded 80/20 training/test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = {p.stem: p for p in files.find("CHNCXR_[0-9][0-9][0-9][0-9]_[0-9].png", "Shenzhen images")}
    masks = files.index("CHNCXR_*_mask.png", "Shenzhen lung masks", lambda p: p.name[: -len("_mask.png")])
    orphans = sorted(set(masks) - set(images))
    if orphans:
        raise FileNotFoundError(
            f"lung mask {masks[orphans[0]]} has no image: expected a file named {orphans[0]}.png below {raw_dir}"
            + (f" ({len(orphans) - 1} more masks without an image)." if len(orphans) > 1 else ".")
        )
    entries = [make_entry(out_dir, name, images[name], {"lung": masks[name]}) for name in sorted(masks)]
    training, test = split_off(entries, TEST_FRACTION, TEST_SPLIT_SEED)
    datalist = make_datalist(
        out_dir,
        name="Shenzhen",
        description="Frontal chest radiographs (Shenzhen No.3 People's Hospital, China; tuberculosis screening) "
        "with manual lung masks; only the images that have a mask are listed.",
        reference=REFERENCE,
        structures=["lung"],
        split_note=f"no official split: test = seeded {TEST_FRACTION:.0%} of the images with a lung mask (numpy "
        f"RandomState({TEST_SPLIT_SEED}) permutation, the same for every seed), the rest training",
        seed=seed,
        val_fraction=val_fraction,
        training=training,
        test=test,
    )
    skipped = len(images) - len(entries)
    notes = [f"skipped {skipped} of {len(images)} Shenzhen images without a lung mask."] if skipped else []
    return Prepared(datalist, notes)
