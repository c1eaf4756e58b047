# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Montgomery County chest X-ray set (Jaeger et al., Quant Imaging Med Surg 2014): 138 radiographs, lung masks.

Raw layout: ``CXR_png/MCUCXR_0001_0.png`` with ``ManualMask/leftMask/MCUCXR_0001_0.png`` and
``ManualMask/rightMask/MCUCXR_0001_0.png``; the lung label is their union (derived PNG). No official split: a
seeded 20% of the images (``numpy.random.RandomState(0)``, the same for every ``seed``) is the test set.
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import (
    TEST_SPLIT_SEED,
    Prepared,
    RawFiles,
    count_note,
    make_datalist,
    make_entry,
    require,
    split_off,
)

__all__ = ["prepare_montgomery", "REFERENCE", "TEST_FRACTION"]

REFERENCE = (
    "Jaeger S, Candemir S, Antani S, Wang YXJ, Lu PX, Thoma G. Two public chest X-ray datasets for computer-aided "
    "screening of pulmonary diseases. Quantitative Imaging in Medicine and Surgery 4(6):475-477, 2014."
)
#: fraction of the images in the test set.
TEST_FRACTION = 0.2


def prepare_montgomery(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """Montgomery: lung = left mask + right mask; seeded 80/20 training/test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = files.find("MCUCXR_*.png", "Montgomery images", within=("CXR_png",))
    sides = {
        side: files.index("MCUCXR_*.png", f"Montgomery {side} lung masks", lambda p: p.stem, within=(folder,))
        for side, folder in (("left", "leftMask"), ("right", "rightMask"))
    }
    entries = []
    for image in images:
        lung = [require(sides[s], image.stem, image, f"{s} lung mask", f"{s}Mask/{image.name}") for s in sides]
        entries.append(make_entry(out_dir, image.stem, image, {"lung": lung}))
    training, test = split_off(entries, TEST_FRACTION, TEST_SPLIT_SEED)
    datalist = make_datalist(
        out_dir,
        name="Montgomery",
        description="Frontal chest radiographs (Montgomery County, USA; tuberculosis screening) with manual lung "
        "masks; lung = left mask + right mask (derived).",
        reference=REFERENCE,
        structures=["lung"],
        split_note=f"no official split: test = seeded {TEST_FRACTION:.0%} of the images (numpy RandomState("
        f"{TEST_SPLIT_SEED}) permutation, the same for every seed), the rest training",
        seed=seed,
        val_fraction=val_fraction,
        training=training,
        test=test,
    )
    return Prepared(datalist, count_note(len(entries), 138, "Montgomery images"))
