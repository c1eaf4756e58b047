# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""JSRT chest radiographs (Shiraishi et al., AJR 2000) with the SCR masks (van Ginneken et al., MedIA 2006).

Raw folder: the JSRT images ``JPCLN001.IMG`` ... anywhere below it (2048 x 2048, 12 bits stored as big-endian
16-bit integers, no header; the side is taken from the file length), and the SCR masks (1024 x 1024 GIF) either in
the SCR release layout ``scratch/fold1/masks/{left lung,right lung,heart,left clavicle,right clavicle}/JPCLN001.gif``
(and ``fold2``) or flat as ``masks/{left_lung,right_lung,heart,left_clavicle,right_clavicle}/*.gif`` (the layout of
the SCR annotations in the shared data, which hold no images: JSRT's terms forbid redistributing them).

Each image is converted as the LD research code does (``skimage.util.invert``, then min-max scaled to 8 bits and
floored, so the lungs appear dark as in a normal radiograph) and area-resized (PIL ``BOX``) to the size of its
masks, then written as ``derived/image/<name>.png``. Lung and clavicle are the unions of left and right (derived
PNGs); the heart mask is used as is. Split: SCR fold1 = training, fold2 = test; without fold folders, odd image
numbers are fold1 and even ones fold2 (the SCR convention).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.util import invert

from ld_monai.apps.prepare.common import (
    Prepared,
    RawFiles,
    count_note,
    derived_path,
    image_size,
    make_datalist,
    make_entry,
    require,
    write_png,
)

__all__ = ["prepare_jsrt", "read_jsrt", "REFERENCE"]

REFERENCE = (
    "Shiraishi J, Katsuragawa S, Ikezoe J, Matsumoto T, Kobayashi T, Komatsu K, Matsui M, Fujita H, Kodera Y, "
    "Doi K. Development of a digital image database for chest radiographs with and without a lung nodule. "
    "American Journal of Roentgenology 174(1):71-74, 2000; van Ginneken B, Stegmann MB, Loog M. Segmentation of "
    "anatomical structures in chest radiographs using supervised methods: a comparative study on a public "
    "database. Medical Image Analysis 10(1):19-40, 2006."
)

#: structure key -> SCR mask folders (in the release's spelling; ``left_lung`` matches ``left lung``).
_MASK_FOLDERS = {
    "lung": ("left lung", "right lung"),
    "heart": ("heart",),
    "clavicle": ("left clavicle", "right clavicle"),
}


def read_jsrt(path: Path) -> np.ndarray:
    """A JSRT ``.IMG`` as the LD research code converts it: ``invert`` of the big-endian int16 pixels, then
    ``floor((x - min) / (max - min) * 255)`` as uint8, square side from the file length (2048 for JSRT).

    Raises:
        ValueError: the file length is not that of a square 16-bit image, or the image is constant.
    """
    raw = np.fromfile(path, dtype=">i2")
    side = math.isqrt(raw.size)
    if raw.size == 0 or side * side != raw.size or path.stat().st_size != 2 * raw.size:
        raise ValueError(
            f"{path}: {path.stat().st_size} bytes is not a square image of 16-bit pixels; expected a JSRT .IMG "
            "(2048 x 2048 x 2 bytes, big-endian, no header)."
        )
    # native byte order first: recent numpy refuses skimage's ``np.subtract(-1, x, dtype=x.dtype)`` on ">i2"
    image = invert(raw.reshape(side, side).astype(np.int16)).astype(np.float64)
    low, high = image.min(), image.max()
    if high == low:
        raise ValueError(f"{path}: constant image (all pixels {int(raw.flat[0])}).")
    return np.floor((image - low) / (high - low) * 255).astype(np.uint8)


def _fold(mask: Path, name: str) -> str:
    """``"training"`` for SCR fold1, ``"test"`` for fold2 (from the folder, else odd / even image number)."""
    folders = {part.lower() for part in mask.parts}
    if "fold1" in folders or "fold2" in folders:
        return "training" if "fold1" in folders else "test"
    number = re.search(r"(\d+)$", name)
    if number is None:
        raise ValueError(f"{mask}: no image number in {name!r} to choose the SCR fold (odd: fold1, even: fold2).")
    return "training" if int(number.group(1)) % 2 else "test"


def prepare_jsrt(raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared:
    """JSRT + SCR: derived 8-bit image at the mask size; lung, heart, clavicle; SCR fold1 / fold2."""
    files = RawFiles(raw_dir, exclude=out_dir)
    images = files.find("*.img", "JSRT images (.IMG)")
    masks = {
        folder: files.index("*.gif", f"SCR {folder} masks", lambda p: p.stem.upper(), within=(folder,))
        for folders in _MASK_FOLDERS.values()
        for folder in folders
    }
    parts: dict[str, list] = {"training": [], "test": []}
    for path in images:
        name = path.stem.upper()
        sources = {
            key: [require(masks[f], name, path, f"SCR {f} mask", f"{name}.gif") for f in folders]
            for key, folders in _MASK_FOLDERS.items()
        }
        heart = sources["heart"][0]
        pixels = Image.fromarray(read_jsrt(path)).resize(image_size(heart), Image.BOX)
        image = write_png(np.asarray(pixels), derived_path(out_dir, "image", name))
        labels = {key: paths[0] if len(paths) == 1 else paths for key, paths in sources.items()}
        parts[_fold(heart, name)].append(make_entry(out_dir, name, image, labels))
    datalist = make_datalist(
        out_dir,
        name="JSRT",
        description="JSRT chest radiographs converted as in the LD research code (inverted, min-max scaled to "
        "8 bits) and area-resized from 2048x2048 to the 1024x1024 of the SCR masks; SCR lung (left + right), "
        "heart and clavicle (left + right) masks.",
        reference=REFERENCE,
        structures=list(_MASK_FOLDERS),
        split_note="SCR folds: fold1 (odd image numbers) = training, fold2 (even) = test",
        seed=seed,
        val_fraction=val_fraction,
        training=parts["training"],
        test=parts["test"],
    )
    return Prepared(datalist, count_note(len(images), 247, "JSRT images"))
