# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ld_monai.apps.prepare on synthetic copies of the fundus layouts: CHASE_DB1, HRF, IDRiD, STARE's PPM files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ld_monai.apps.prepare import prepare_dataset
from tests.apps.prepare.synthetic import (
    FUNDUS_SIZE,
    SPLITS,
    check_datalist,
    foreground,
    fundus,
    fundus_disc,
    load,
    save,
    shape,
    write_chase_db1,
    write_idrid,
)

SIZE = FUNDUS_SIZE


def assert_fov(fov: np.ndarray) -> None:
    """The derived FOV of a JPEG of :func:`fundus`: its disc up to compression noise, hole filled, no corner blob."""
    disc = fundus_disc(SIZE)
    assert fov[ndimage.binary_erosion(disc)].all() and not fov[~ndimage.binary_dilation(disc, iterations=2)].any()
    assert fov[SIZE[1] // 2, SIZE[0] // 2] and not fov[:2, :2].any()


@pytest.mark.parametrize("subfolders", [False, True])
def test_chase_db1(tmp_path, subfolders):
    names = write_chase_db1(tmp_path / "raw", subfolders)
    path = prepare_dataset("chase_db1", tmp_path / "raw", tmp_path / "out", val_fraction=0.25)
    datalist = check_datalist(path, ["vessel"], with_mask=True)
    assert [len(datalist[s]) for s in SPLITS] == [15, 5, 8]
    assert {e["name"] for e in datalist["test"]} == set(names[20:])  # children 11-14
    for entry in datalist["training"]:
        assert entry["vessel"].endswith(f"{entry['name']}_1stHO.png")  # the raw 1st observer, used as is
        assert_fov(foreground(path, entry["mask"]))


def test_hrf(tmp_path):
    raw = tmp_path / "raw"
    stems = [f"{i:02d}_{kind}" for i in range(1, 16) for kind in ("h", "dr", "g")]
    for i, stem in enumerate(stems):
        save(fundus(SIZE, i), raw / "images" / f"{stem}.{'JPG' if stem.endswith('_dr') else 'jpg'}")
        values = (0, 1) if i % 3 else (0, 255)
        label = shape(SIZE, i, values)
        if i == 4:  # antialiased edges: binarised at 128
            label = np.where(label > 0, 254, 0).astype(np.uint8)
            label[0, 0] = 127
        save(label, raw / "manual1" / f"{stem}.tif")
        fov = np.repeat(fundus_disc(SIZE)[..., None] * np.uint8(255), 3, axis=-1)  # an RGB mask: made one channel
        save(fov, raw / "mask" / f"{stem}_mask.tif")
    path = prepare_dataset("hrf", raw, tmp_path / "out")
    datalist = check_datalist(path, ["vessel"], with_mask=True)
    assert [len(datalist[s]) for s in SPLITS] == [20, 5, 20]
    ordered = sorted(stems)
    assert {e["name"] for s in ("training", "validation") for e in datalist[s]} == set(ordered[:25])
    assert ordered[24] == "09_dr" and {e["name"] for e in datalist["test"]} == set(ordered[25:])
    entries = {e["name"]: e for s in SPLITS for e in datalist[s]}
    assert entries["01_h"]["vessel"] == "../raw/manual1/01_h.tif"
    assert entries["02_dr"]["vessel"] == "derived/vessel/02_dr.png"  # the antialiased one
    assert load(path.parent / entries["02_dr"]["vessel"])[0, 0] == 0
    assert entries["01_h"]["mask"] == "derived/mask/01_h.png"
    np.testing.assert_array_equal(foreground(path, entries["01_h"]["mask"]), fundus_disc(SIZE))


def test_idrid_od(tmp_path):
    write_idrid(tmp_path / "raw")
    notes = []
    path = prepare_dataset("idrid_od", tmp_path / "raw", tmp_path / "out", notes=notes)
    datalist = check_datalist(path, ["disc"], with_mask=True)
    assert [len(datalist[s]) for s in SPLITS] == [2, 1, 2]
    assert [e["name"] for e in datalist["test"]] == ["IDRiD_55", "IDRiD_56"]
    entry = datalist["test"][0]
    assert entry["disc"] == "derived/disc/IDRiD_55.png"
    np.testing.assert_array_equal(foreground(path, entry["disc"]), shape(SIZE, 0) > 0)  # red annotation binarised
    assert_fov(foreground(path, entry["mask"]))
    assert notes == [
        "found 3 IDRiD a. Training Set images; the official release has 54.",
        "found 2 IDRiD b. Testing Set images; the official release has 27.",
    ]


def test_stare_ppm_accepted(tmp_path):
    raw = tmp_path / "raw"
    ids = [f"im{i:04d}" for i in (1, 2, 3, 4, 5, 44, 77, 81, 82, 139, 162, 163)]
    for i, name in enumerate(ids):
        ext = (".png", ".ppm", ".ppm.gz")[i % 3]
        save(fundus(SIZE, i), raw / "stare-images" / f"{name}{ext}")
        save(np.repeat(shape(SIZE, i)[..., None], 3, axis=-1), raw / "labels-ah" / f"{name}.ah{'.ppm.gz'}")
    notes = []
    path = prepare_dataset("stare", raw, tmp_path / "out", notes=notes)
    datalist = check_datalist(path, ["vessel"], with_mask=True)
    assert [len(datalist[s]) for s in SPLITS] == [8, 2, 2]
    assert [e["name"] for e in datalist["test"]] == ["im0162", "im0163"]
    entries = {e["name"]: e for s in SPLITS for e in datalist[s]}
    assert entries["im0001"]["image"] == "../raw/stare-images/im0001.png"
    for name in ("im0002", "im0003"):  # PPM and gzip-compressed PPM: converted to PNG
        assert entries[name]["image"] == f"derived/image/{name}.png"
        np.testing.assert_array_equal(load(path.parent / entries[name]["image"]), fundus(SIZE, ids.index(name)))
    np.testing.assert_array_equal(foreground(path, entries["im0003"]["vessel"]), shape(SIZE, 2) > 0)
    assert notes == ["found 12 STARE images; the official release has 20."]
