# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ld_monai.apps.prepare on the real copies of LD_MONAI_DATA_DIR (skipped locally when it is unset)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from skimage import measure

from ld_monai.apps.prepare import DATASETS, prepare_dataset
from tests.apps.prepare.synthetic import SPLITS, check_datalist, foreground, load


@pytest.fixture(scope="module")
def prepared(data_dir, tmp_path_factory):
    """dataset name -> its datalist path, each prepared once for the module."""
    raw = {
        "drive": data_dir / "fundus" / "DRIVE",
        "stare": data_dir / "fundus" / "STARE",
        "drishti_gs1": data_dir / "fundus" / "Drishti-GS1",
        "cxr_lungs": data_dir / "xray" / "cxr_lungs",
    }
    cache: dict = {}

    def get(name):
        if name not in cache:
            cache[name] = prepare_dataset(name, raw[name], tmp_path_factory.mktemp(name))
        return cache[name]

    return get


def test_datasets_names():
    assert list(DATASETS) == [
        "drive", "stare", "chase_db1", "hrf", "drishti_gs1", "idrid_od", "jsrt", "montgomery", "shenzhen", "cxr_lungs",
        "isbi2015",
    ]


def test_drive(prepared, data_dir):
    path = prepared("drive")
    datalist = check_datalist(path, ["vessel"], with_mask=True)
    assert datalist["name"] == "DRIVE" and datalist["seed"] == 0
    assert [len(datalist[s]) for s in SPLITS] == [16, 4, 20]
    pool = {e["name"] for s in ("training", "validation") for e in datalist[s]}
    assert pool == {f"{i}_training" for i in range(21, 41)}
    assert {e["name"] for e in datalist["test"]} == {f"{i:02d}_test" for i in range(1, 21)}
    entry = datalist["test"][0]
    drive = data_dir / "fundus" / "DRIVE" / "test"
    assert (path.parent / entry["mask"]).resolve() == (drive / "mask" / "01_test_mask.gif").resolve()
    assert (path.parent / entry["vessel"]).resolve() == (drive / "1st_manual" / "01_manual1.gif").resolve()
    assert not (path.parent / "derived").exists()  # the raw files are all usable as they are


def test_rerun_identical_and_seeds_change_validation(prepared, data_dir, tmp_path):
    first = prepared("drive").read_bytes()
    again = prepare_dataset("drive", data_dir / "fundus" / "DRIVE", prepared("drive").parent)
    assert again.read_bytes() == first
    other = json.loads(prepare_dataset("DRIVE", data_dir / "fundus" / "DRIVE", tmp_path, seed=1).read_text())
    base = json.loads(first)
    assert other["seed"] == 1 and len(other["validation"]) == 4
    assert {e["name"] for e in other["validation"]} != {e["name"] for e in base["validation"]}
    pool = lambda d: {e["name"] for s in ("training", "validation") for e in d[s]}  # noqa: E731
    assert pool(other) == pool(base) and other["test"] == base["test"]


def test_stare(prepared):
    path = prepared("stare")
    datalist = check_datalist(path, ["vessel"], with_mask=True)
    assert [len(datalist[s]) for s in SPLITS] == [8, 2, 10]
    assert {e["name"] for s in ("training", "validation") for e in datalist[s]} == {
        "im0001", "im0002", "im0003", "im0004", "im0005", "im0044", "im0077", "im0081", "im0082", "im0139"
    }
    for entry in datalist["test"]:
        assert entry["mask"] == f"derived/mask/{entry['name']}.png"
        fov = foreground(path, entry["mask"])
        # the research rule (any channel > 20) also takes in STARE's noisy dark corners, so the mask is the bright
        # disc plus some background: it must contain the whole disc and leave out part of the frame.
        assert 0.5 < fov.mean() < 0.97
        image = load(path.parent / entry["image"])
        disc = measure.label((image > 60).any(-1), connectivity=2)
        disc = disc == np.argmax(np.bincount(disc.ravel())[1:]) + 1
        assert fov[disc].mean() > 0.999
        assert foreground(path, entry["vessel"])[~fov].mean() < 0.01  # vessels lie inside the field of view


def test_drishti_gs1(prepared):
    path = prepared("drishti_gs1")
    datalist = check_datalist(path, ["disc", "cup"], with_mask=False)
    assert [len(datalist[s]) for s in SPLITS] == [40, 10, 51]
    for split in SPLITS:
        for entry in datalist[split]:
            assert entry["disc"] == f"derived/disc/{entry['name']}.png"
            disc, cup = load(path.parent / entry["disc"]), load(path.parent / entry["cup"])
            assert set(np.unique(disc).tolist()) == {0, 255} and set(np.unique(cup).tolist()) == {0, 255}
            assert ((cup > 0) & (disc == 0)).sum() <= 0.01 * (cup > 0).sum()  # disc contains cup
            assert (cup > 0).sum() < (disc > 0).sum()


def test_cxr_lungs_split_by_patient(prepared, data_dir):
    path = prepared("cxr_lungs")
    datalist = check_datalist(path, ["lung"], with_mask=False)
    with open(data_dir / "xray" / "cxr_lungs" / "index.csv", newline="") as f:
        patient = {row["stem"]: row["patientid"] for row in csv.DictReader(f)}
    assert sum(len(datalist[s]) for s in SPLITS) == len(patient) == 66
    patients = [{patient[e["name"]] for e in datalist[s]} for s in SPLITS]
    assert all(patients) and not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    assert len(patients[2]) == 9  # 25% of the 36 patients
    assert len(patients[1]) == 5  # 20% of the other 27
