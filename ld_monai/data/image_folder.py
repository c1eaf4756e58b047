# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Unlabelled image folders as MONAI datalists, and a fail-fast check of their files.

Local-discrimination pretraining (Chen et al., "Unsupervised Local Discrimination for Medical Images",
arXiv 2108.09440) needs no labels: a folder of images is the whole training set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ld_monai.data.file_format import IMAGE_EXTENSIONS, is_dicom_file

__all__ = ["IMAGE_EXTENSIONS", "PIL_EXTENSIONS", "image_folder_datalist", "check_image_files"]

#: extensions whose header :func:`check_image_files` reads with PIL (others go through MONAI ``LoadImage``).
PIL_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")

# number of channels of each PIL mode, as the data will be used: a palette image becomes RGB,
# grey + alpha is treated as grey.
_PIL_MODE_CHANNELS = {
    "1": 1,
    "L": 1,
    "LA": 1,
    "La": 1,
    "I": 1,
    "F": 1,
    "I;16": 1,
    "I;16L": 1,
    "I;16B": 1,
    "I;16N": 1,
    "P": 3,
    "PA": 3,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
}


def _has_extension(name: str, extensions: Sequence[str]) -> bool:
    lower = name.lower()
    return any(lower.endswith(ext) for ext in extensions)


def image_folder_datalist(
    dataset_dir: str | os.PathLike | Sequence[str | os.PathLike],
    pattern: str = "**/*",
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    key: str = "image",
) -> list[dict[str, str]]:
    """List the image files of a folder (or of several) as a MONAI datalist ``[{key: absolute path}, ...]``.

    Args:
        dataset_dir: folder to search, or a sequence of folders (a pretraining pool, e.g. several public sets);
            the files of each folder are sorted by path, folders in the given order.
        pattern: :meth:`pathlib.Path.glob` pattern relative to ``dataset_dir``; the default ``"**/*"`` searches
            all sub-folders.
        extensions: file name endings to keep, compared case-insensitively (``".nii.gz"`` works); each should
            start with a dot. Files with another name are kept if they are DICOM (PS3.10 ``DICM`` magic).
        key: dictionary key of each entry.

    Raises:
        ValueError: ``dataset_dir`` is None (a bundle run without ``--dataset_dir``).
        FileNotFoundError: a folder does not exist or is not a directory.
        ValueError: no file matches in a folder (the message names the directory, the pattern and the extensions).

    Example::

        >>> image_folder_datalist("/data/fundus")  # doctest: +SKIP
        [{'image': '/data/fundus/a/001.png'}, {'image': '/data/fundus/b/002.JPG'}]
    """
    if dataset_dir is None:
        raise ValueError("no image folder: give dataset_dir (e.g. --dataset_dir /data/radiographs).")
    if not isinstance(dataset_dir, (str, os.PathLike)):
        return [entry for folder in dataset_dir for entry in image_folder_datalist(folder, pattern, extensions, key)]
    root = Path(dataset_dir).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist.")
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} is not a directory.")
    root = root.resolve()
    exts = tuple(e.lower() for e in extensions)
    # DICOM files often have no extension (or a UID as their name): they are recognised by content
    files = sorted(
        p for p in root.glob(pattern) if p.is_file() and (_has_extension(p.name, exts) or is_dicom_file(p))
    )
    if not files:
        raise ValueError(
            f"no image file in {str(root)!r} matches pattern {pattern!r} with extensions {list(extensions)}."
        )
    return [{key: str(p)} for p in files]


def _pil_header(path: Path) -> tuple[tuple[int, ...], int, str]:
    """Size (W, H), channel count and a description of the mode, from PIL's header plus a chunk check."""
    from PIL import Image

    with Image.open(path) as im:
        size, mode = tuple(im.size), im.mode
        # `verify` walks the file's chunks and checksums (PNG) without decoding pixels: it catches truncation.
        im.verify()
    channels = _PIL_MODE_CHANNELS.get(mode)
    if channels is None:
        channels = len(Image.getmodebands(mode)) if mode else 0
    return size, channels, f"mode {mode!r}"


def _monai_header(path: Path, loader: Callable) -> tuple[tuple[int, ...], int, str]:
    """Spatial size and channel count of an image loaded by a MONAI-style loader (used for DICOM, NIfTI and what
    PIL cannot read): the reader's ``spatial_shape`` meta, the rest of the array being channels."""
    img = loader(str(path))
    shape = tuple(int(s) for s in img.shape)
    spatial = tuple(int(s) for s in getattr(img, "meta", {}).get("spatial_shape", shape))
    channels = int(np.prod(shape)) // max(int(np.prod(spatial)), 1)
    return spatial, channels, f"array shape {shape}"


def _fmt_size(size: Sequence[int]) -> str:
    return "x".join(str(s) for s in size)


def check_image_files(
    datalist: Sequence[Mapping[Hashable, Any]],
    key: str = "image",
    min_size: int | Sequence[int] | None = None,
    num_channels: int | None = None,
    loader: Callable[[str], Any] | None = None,
) -> None:
    """Check that every file of a datalist is a readable image of sufficient size and channel count.

    Meant to run before training, so that a bad file fails fast, by name, before anything is written.
    PNG/JPEG/TIFF/BMP/GIF headers are read with PIL (``Image.open`` + ``verify``: no pixel decoding, so a
    truncated PNG is caught but a truncated JPEG may not be); DICOM, NIfTI and files PIL cannot open are
    loaded with MONAI ``LoadImage(image_only=True)`` (created only if needed).

    Channels are counted as the data will be used: PIL modes ``1``/``L``/``I``/``I;16``/``F`` and grey + alpha
    (``LA``) are 1 channel, ``RGB`` and palette (``P``) 3, ``RGBA`` 4, which is accepted when 3 are wanted.

    Args:
        datalist: e.g. the output of :func:`image_folder_datalist`.
        key: key of the file path in each entry.
        min_size: smallest acceptable size: an int for both sides, or a pair in MONAI's loaded spatial order,
            which for 2-D images is (width, height), the order of PIL's ``Image.size``. For volumes, the first
            two spatial axes are checked.
        num_channels: required channel count (``None``: not checked).
        loader: reads the files PIL does not (DICOM, NIfTI) into a channel-first image, e.g.
            :class:`ld_monai.transforms.LoadRadiograph`, whose checks (modality, frames, colour) then apply too.
            Default: MONAI ``LoadImage(image_only=True)``. DICOM and NIfTI files are decoded in full.

    Raises:
        ValueError: listing every bad file with the reason (missing, unreadable / not an image, too small
            with the size found, wrong channel count), or if ``datalist`` is empty.
    """
    if len(datalist) == 0:
        raise ValueError("the datalist is empty: no image to check.")
    if min_size is not None:
        min_wh = (int(min_size), int(min_size)) if np.isscalar(min_size) else tuple(int(s) for s in min_size)
        if len(min_wh) != 2:
            raise ValueError(f"min_size must be an int or a pair, got {min_size!r}.")
    problems: list[str] = []
    for i, entry in enumerate(datalist):
        if key not in entry:
            problems.append(f"entry {i}: no key {key!r} (keys: {list(entry)})")
            continue
        path = Path(entry[key])
        if not path.is_file():
            problems.append(f"{path}: file not found")
            continue
        header = None
        errors = []
        if _has_extension(path.name, PIL_EXTENSIONS):
            try:
                header = _pil_header(path)
            except Exception as e:  # noqa: BLE001 - any failure means "not a readable image"
                errors.append(f"PIL: {type(e).__name__}: {e}")
        if header is None:
            try:
                if loader is None:
                    from monai.transforms import LoadImage

                    loader = LoadImage(image_only=True, ensure_channel_first=False)
                header = _monai_header(path, loader)
            except Exception as e:  # noqa: BLE001
                errors.append(f"MONAI LoadImage: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        if header is None:
            problems.append(f"{path}: unreadable or not an image ({'; '.join(errors)})")
            continue
        size, channels, how = header
        if min_size is not None and (len(size) < 2 or size[0] < min_wh[0] or size[1] < min_wh[1]):
            problems.append(f"{path}: too small, size {_fmt_size(size)} but at least {_fmt_size(min_wh)} required")
        if num_channels is not None and channels != num_channels and not (num_channels == 3 and channels == 4):
            problems.append(f"{path}: {channels} channel(s) ({how}) but {num_channels} required")
    if problems:
        raise ValueError(
            f"{len(problems)} of {len(datalist)} image file(s) failed the check:\n  " + "\n  ".join(problems)
        )
