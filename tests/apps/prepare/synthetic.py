# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Small synthetic copies of the raw dataset layouts, and a checker of the datalists prepared from them."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = ("training", "validation", "test")
FUNDUS_SIZE = (40, 36)


def fundus(size: tuple[int, int] = (40, 36), seed: int = 0) -> np.ndarray:
    """An RGB "photograph": dark noisy background, an orange disc with a black spot (a hole), a bright corner blob."""
    width, height = size
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 <= (0.4 * min(size)) ** 2
    image = rng.randint(0, 8, (height, width, 3))
    image[disc] = np.array([180, 90, 40]) + rng.randint(0, 20, (int(disc.sum()), 3))
    image[height // 2 - 1 : height // 2 + 2, width // 2 - 1 : width // 2 + 2] = 0  # hole, filled in the FOV
    image[:2, :2] = 255  # a burnt-in label: a separate, smaller component
    return image.astype(np.uint8)


def fundus_disc(size: tuple[int, int] = (40, 36)) -> np.ndarray:
    """The field of view of :func:`fundus` (its disc, hole filled, corner blob excluded)."""
    width, height = size
    yy, xx = np.mgrid[:height, :width]
    return (yy - height / 2) ** 2 + (xx - width / 2) ** 2 <= (0.4 * min(size)) ** 2


def shape(size: tuple[int, int], seed: int, values: tuple[int, int] = (0, 255)) -> np.ndarray:
    """A random blobby binary label as uint8 ``values``."""
    width, height = size
    rng = np.random.RandomState(seed)
    mask = np.zeros((height, width), bool)
    y, x = rng.randint(2, height - 8), rng.randint(2, width - 8)
    mask[y : y + rng.randint(3, 7), x : x + rng.randint(3, 7)] = True
    return np.where(mask, values[1], values[0]).astype(np.uint8)


def save(array: np.ndarray, path: Path, **kwargs) -> Path:
    """Save with PIL (format from the suffix; ``.ppm.gz`` gzip-compressed), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array, **kwargs)
    if path.name.endswith(".gz"):
        buffer = io.BytesIO()
        image.save(buffer, format="PPM")
        path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    elif path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, quality=95, subsampling=0)
    else:
        image.save(path)
    return path


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def write_chase_db1(root: Path, subfolders: bool = False) -> list[str]:
    """CHASE_DB1: 28 images of 14 children with both observers' labels, flat or in ``images/`` + ``manual/``."""
    images, manual = (root / "images", root / "manual") if subfolders else (root, root)
    names = [f"Image_{child:02d}{eye}" for child in range(1, 15) for eye in "LR"]
    for i, name in enumerate(names):
        save(fundus(FUNDUS_SIZE, i), images / f"{name}.jpg")
        save(shape(FUNDUS_SIZE, i), manual / f"{name}_1stHO.png")
        save(shape(FUNDUS_SIZE, i + 100), manual / f"{name}_2ndHO.png")
    return names


def write_idrid(root: Path, training=("01", "02", "03"), test=("55", "56")) -> Path:
    """IDRiD segmentation part with colour (red) optic-disc TIFFs, plus a grading-part image; returns the part."""
    seg = root / "A. Segmentation"
    for folder, numbers in (("a. Training Set", training), ("b. Testing Set", test)):
        for i, number in enumerate(numbers):
            save(fundus(FUNDUS_SIZE, i), seg / "1. Original Images" / folder / f"IDRiD_{number}.jpg")
            disc = shape(FUNDUS_SIZE, i) > 0
            red = np.zeros((*disc.shape, 3), np.uint8)
            red[disc, 0] = 255
            gt = seg / "2. All Segmentation Groundtruths" / folder / "5. Optic Disc" / f"IDRiD_{number}_OD.tif"
            save(red, gt)
    # the disease-grading part uses the same folder names but three-digit image names: left out
    grading = root / "B. Disease Grading" / "1. Original Images" / "a. Training Set"
    save(fundus(FUNDUS_SIZE, 9), grading / "IDRiD_001.jpg")
    return seg


def check_datalist(path: Path, structures: list[str], with_mask: bool) -> dict:
    """Load a datalist and check the contract: keys, relative POSIX paths to existing files, unique names,
    one-channel binary labels and masks of the image's size. Returns the datalist."""
    datalist = json.loads(path.read_text(encoding="utf-8"))
    assert list(datalist) == ["name", "description", "reference", "structures", "split_note", "seed", *SPLITS]
    assert datalist["structures"] == structures
    keys = ["image", *structures, *(["mask"] if with_mask else []), "name"]
    names = [entry["name"] for split in SPLITS for entry in datalist[split]]
    assert len(names) == len(set(names)), "names must be unique across the splits"
    for split in SPLITS:
        assert [e["name"] for e in datalist[split]] == sorted(e["name"] for e in datalist[split])
        for entry in datalist[split]:
            assert list(entry) == keys
            files = {k: v for k, v in entry.items() if k != "name"}
            for rel in files.values():
                assert not Path(rel).is_absolute() and "\\" not in rel
                assert (path.parent / rel).is_file(), rel
            with Image.open(path.parent / files["image"]) as im:
                size = im.size
            for key in [*structures, *(["mask"] if with_mask else [])]:
                label = load(path.parent / files[key])
                assert label.ndim == 2 and (label.shape[1], label.shape[0]) == size, files[key]
                assert set(np.unique(label).tolist()) <= {0, 255} or set(np.unique(label).tolist()) <= {0, 1}
    return datalist


def foreground(datalist_path: Path, rel: str) -> np.ndarray:
    """A label of a datalist as a boolean array."""
    return load(datalist_path.parent / rel) > 0
