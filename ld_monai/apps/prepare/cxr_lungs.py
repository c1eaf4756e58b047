# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Chest radiographs of the COVID-19 image data collection (Cohen et al., 2020) with V7 Labs lung masks.

Raw layout (the shared data's ``xray/cxr_lungs``): ``images/<stem>.png``, ``masks/<stem>.png`` (0/255) and
``index.csv`` with the columns ``stem`` and ``patientid``. Several images may come from one patient, so the split
is by patient: a seeded 25% of the patients (``numpy.random.RandomState(0)``, the same for every ``seed``) is the
test set, and the validation part is drawn from the remaining patients.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ld_monai.apps.prepare.common import TEST_SPLIT_SEED, Entry, Prepared, make_datalist, make_entry, split_off

__all__ = ["prepare_cxr_lungs", "REFERENCE", "TEST_FRACTION"]

REFERENCE = (
    "Cohen JP, Morrison P, Dao L, Roth K, Duong TQ, Ghassemi M. COVID-19 image data collection: prospective "
    "predictions are the future. Machine Learning for Biomedical Imaging 1:002, 2020 (arXiv:2006.11988); lung "
    "masks: V7 Labs COVID-19 X-ray dataset annotations (CC BY 4.0)."
)
#: fraction of the patients in the test set.
TEST_FRACTION = 0.25


def prepare_cxr_lungs(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """cxr_lungs: lung = V7 Labs mask; seeded split by ``patientid`` (test 25% of the patients)."""
    index = raw_dir / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: expected a CSV with the columns 'stem' and 'patientid'.")
    with open(index, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"stem", "patientid"} <= set(rows[0]):
        raise ValueError(f"{index}: expected rows with the columns 'stem' and 'patientid'.")
    patient: dict[str, str] = {}
    entries: list[Entry] = []
    for row in rows:
        stem = row["stem"]
        image, mask = raw_dir / "images" / f"{stem}.png", raw_dir / "masks" / f"{stem}.png"
        if not image.is_file():
            raise FileNotFoundError(f"{index} lists {stem!r} but its image {image} does not exist.")
        if not mask.is_file():
            raise FileNotFoundError(f"image {image} has no lung mask: expected {mask}.")
        patient[stem] = row["patientid"]
        entries.append(make_entry(out_dir, stem, image, {"lung": mask}))
    if len(patient) != len(rows):
        raise ValueError(f"{index}: a stem is listed twice; each row must name a different image.")

    def by_patient(entry: Entry) -> str:
        return patient[entry["name"]]

    training, test = split_off(entries, TEST_FRACTION, TEST_SPLIT_SEED, group=by_patient)
    datalist = make_datalist(
        out_dir,
        name="cxr_lungs",
        description="Frontal chest radiographs (PA / AP, 8-bit PNG, long side 512) from the COVID-19 image data "
        "collection (CC BY images) with V7 Labs lung masks (lungs including the retrocardiac region).",
        reference=REFERENCE,
        structures=["lung"],
        split_note=f"no official split; by patientid: test = seeded {TEST_FRACTION:.0%} of the patients (numpy "
        f"RandomState({TEST_SPLIT_SEED}) permutation, the same for every seed), the rest training",
        seed=seed,
        val_fraction=val_fraction,
        training=training,
        test=test,
        group=by_patient,
    )
    return Prepared(datalist, [])
