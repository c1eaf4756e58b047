# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Drishti-GS1 optic disc and cup segmentation (Sivaswamy et al., ISBI 2014; JSM Biomed Imaging Data Pap 2015).

101 optic-nerve-head photographs, official split ``Training`` (50) / ``Test`` (51). Accepted layouts:
``Training/images/drishtiGS_002.png`` + ``Training/softmaps/drishtiGS_002_ODsegSoftmap.png`` (and ``_cupsegSoftmap``),
as in the shared copy, or the original release's ``Training/Images/`` + ``Training/GT/<id>/SoftMap/`` (``Test/Test_GT``
for the test part). The soft maps hold the fraction of the 4 annotators (0, 64, 128, 191, 255): the binary disc and
cup are their majority (>= 128), written as derived PNGs. No field-of-view mask (the photographs are cropped).
"""

from __future__ import annotations

from pathlib import Path

from ld_monai.apps.prepare.common import Prepared, RawFiles, count_note, make_datalist, make_entry, require

__all__ = ["prepare_drishti_gs1", "REFERENCE"]

REFERENCE = (
    "Sivaswamy J, Krishnadas SR, Joshi GD, Jain M, Tabish AUS. Drishti-GS: retinal image dataset for optic nerve "
    "head (ONH) segmentation. IEEE ISBI 2014, 53-56; Sivaswamy J, Krishnadas S, Chakravarty A, Joshi G, Tabish AS. "
    "A comprehensive retinal image dataset for the assessment of glaucoma from the optic nerve head analysis. "
    "JSM Biomedical Imaging Data Papers 2(1):1004, 2015."
)

_OFFICIAL = {"training": ("Training", 50), "test": ("Test", 51)}
_MAPS = {"disc": "OD", "cup": "cup"}


def prepare_drishti_gs1(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """Drishti-GS1: disc and cup = majority of the annotators' soft maps; official Training / Test."""
    files = RawFiles(raw_dir, exclude=out_dir)
    parts: dict[str, list] = {}
    notes: list[str] = []
    for part, (folder, expected) in _OFFICIAL.items():
        maps = {
            key: files.index(
                f"drishtiGS_*_{tag}segSoftmap.png",
                f"Drishti-GS1 {folder} {key} soft maps",
                lambda p, tag=tag: p.name[: -len(f"_{tag}segSoftmap.png")],
                within=(folder,),
            )
            for key, tag in _MAPS.items()
        }
        parts[part] = []
        for image in files.find("drishtiGS_*.png", f"Drishti-GS1 {folder} images", within=(folder, "images")):
            labels = {
                key: require(maps[key], image.stem, image, f"{key} soft map", f"{image.stem}_{tag}segSoftmap.png")
                for key, tag in _MAPS.items()
            }
            parts[part].append(make_entry(out_dir, image.stem, image, labels, soft=True))
        notes += count_note(len(parts[part]), expected, f"Drishti-GS1 {folder} images")
    datalist = make_datalist(
        out_dir,
        name="Drishti-GS1",
        description="Optic-nerve-head fundus photographs with optic disc and cup segmentations: the majority "
        "(>= 128, i.e. at least 2 of 4 annotators) of the released soft maps, derived as 0/255 PNGs.",
        reference=REFERENCE,
        structures=["disc", "cup"],
        split_note="official: Training 50, Test 51",
        seed=seed,
        val_fraction=val_fraction,
        training=parts["training"],
        test=parts["test"],
    )
    return Prepared(datalist, notes)
