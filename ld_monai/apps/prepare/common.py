# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by the dataset preparers: file search, binary labels, FOV masks, seeded splits, datalist I/O.

A preparer reads a raw download without modifying it and returns a :class:`Prepared` datalist whose entries
point at the raw files when they are usable as they are, otherwise at files derived under ``out_dir/derived/``
(binary 0/255 PNG labels, field-of-view masks, converted images). The field-of-view mask is derived as the
local-discrimination research preprocessing does (Chen et al., arXiv 2108.09440; ``identify_roi``): any RGB
channel > 20, the largest 8-connected component, here with its holes filled.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from ld_monai.data.field_of_view import largest_bright_component
from ld_monai.utils import atomic_write

__all__ = [
    "STRUCTURES",
    "SPLITS",
    "TEST_SPLIT_SEED",
    "FOV_THRESHOLD",
    "Entry",
    "Prepared",
    "Preparer",
    "RawFiles",
    "require",
    "open_image",
    "read_array",
    "image_size",
    "derived_path",
    "usable_image",
    "binary_label",
    "union_label",
    "derive_fov_mask",
    "write_png",
    "split_off",
    "count_note",
    "relative_path",
    "make_entry",
    "make_datalist",
    "write_datalist",
]

#: structure keys of a datalist entry, in the order of the datalist's ``"structures"``.
STRUCTURES: tuple[str, ...] = ("vessel", "disc", "cup", "lung", "heart", "clavicle")
#: the lists of a datalist.
SPLITS: tuple[str, ...] = ("training", "validation", "test")
#: seed of the train/test split of the datasets without an official one: the test set does not depend on the
#: ``seed`` argument, which only chooses the validation part.
TEST_SPLIT_SEED = 0
#: foreground threshold of the field-of-view mask on the 0-255 scale (research code: 20).
FOV_THRESHOLD = 20

#: image files a datalist may point at directly (MONAI ``LoadImage(reader="PILReader")`` reads them).
_DIRECT_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp")
#: label files a datalist may point at directly when they hold one channel of 0/255 or 0/1.
_DIRECT_LABEL_SUFFIXES = (".png", ".gif", ".tif", ".tiff")

#: a datalist entry while preparing: ``"image"``, structure keys and ``"mask"`` map to absolute paths,
#: ``"name"`` to the unique stem of the item.
Entry = dict[str, Any]


@dataclass
class Prepared:
    """What a preparer returns: the datalist (paths already relative to ``out_dir``) and remarks for the user."""

    datalist: dict[str, Any]
    notes: list[str] = field(default_factory=list)


class Preparer(Protocol):
    """``preparer(raw_dir, out_dir, seed, val_fraction)``: absolute directories; writes derived files only."""

    def __call__(self, raw_dir: Path, out_dir: Path, seed: int, val_fraction: float) -> Prepared: ...


def _norm(name: str) -> str:
    """Folder names compared case-insensitively, with spaces as underscores (``left lung`` = ``left_lung``)."""
    return name.lower().replace(" ", "_")


class RawFiles:
    """The files below a raw dataset folder (symbolic links followed), searched by name and parent folders.

    Args:
        root: the raw dataset folder.
        exclude: a folder not to search (the output folder, in case it lies inside ``root``).
    """

    def __init__(self, root: Path, exclude: Path | None = None) -> None:
        self.root = root
        skip = os.path.abspath(exclude) if exclude is not None else None
        files: list[tuple[tuple[str, ...], Path]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if os.path.abspath(os.path.join(dirpath, d)) != skip)
            parts = tuple(_norm(p) for p in Path(os.path.relpath(dirpath, root)).parts if p != ".")
            files.extend((parts, Path(dirpath) / f) for f in filenames)
        self._files = sorted(files, key=lambda item: str(item[1]))

    def find(self, patterns: str | Sequence[str], what: str, within: Sequence[str] = ()) -> list[Path]:
        """Files whose name matches one of ``patterns`` (case-insensitive ``fnmatch``), sorted by path.

        Args:
            patterns: file-name patterns such as ``"*_training.tif"``.
            what: description for the error message, e.g. ``"DRIVE training images"``.
            within: folder names that must all appear among the file's parent folders below ``root``
                (compared as :func:`_norm` does).

        Raises:
            FileNotFoundError: no file matches; the message names the folder and the patterns.
        """
        pats = [patterns] if isinstance(patterns, str) else list(patterns)
        wanted = {_norm(w) for w in within}
        found = [
            path
            for parts, path in self._files
            if wanted <= set(parts) and any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in pats)
        ]
        if not found:
            where = f" in folders named {' and '.join(repr(w) for w in within)}" if within else ""
            raise FileNotFoundError(
                f"no {what} found below {self.root}: searched for file names matching "
                f"{' or '.join(repr(p) for p in pats)}{where}."
            )
        return found

    def index(
        self,
        patterns: str | Sequence[str],
        what: str,
        key: Callable[[Path], str],
        within: Sequence[str] = (),
    ) -> dict[str, Path]:
        """:meth:`find`, as a mapping ``key(path) -> path``.

        Raises:
            ValueError: two files have the same key (e.g. a second copy of a label in another folder).
        """
        index: dict[str, Path] = {}
        for path in self.find(patterns, what, within):
            k = key(path)
            if k in index:
                raise ValueError(f"two {what} for {k!r}: {index[k]} and {path}; keep one of them.")
            index[k] = path
        return index


def require(index: Mapping[str, Path], key: str, image: Path, what: str, expected: str) -> Path:
    """``index[key]``, or a ``FileNotFoundError`` naming the image and the label file that was expected."""
    try:
        return index[key]
    except KeyError:
        raise FileNotFoundError(f"image {image} has no {what}: expected a file named {expected!r}.") from None


def open_image(path: Path) -> Image.Image:
    """Open an image with PIL (``.gz`` files are decompressed in memory, e.g. STARE's ``.ppm.gz``).

    Raises:
        ValueError: PIL cannot read the file; the message names it.
    """
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return Image.open(io.BytesIO(f.read()))
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path}: not a readable image ({type(error).__name__}: {error}).") from error


def read_array(path: Path) -> np.ndarray:
    """The pixels of an image file as PIL decodes them (palette images give their indices, mode ``1`` bool)."""
    with open_image(path) as im:
        return np.asarray(im)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header."""
    with open_image(path) as im:
        return tuple(im.size)  # type: ignore[return-value]


def derived_path(out_dir: Path, key: str, name: str) -> Path:
    """Where a derived file goes: ``out_dir/derived/<key>/<name>.png``."""
    return out_dir / "derived" / key / f"{name}.png"


def write_png(array: np.ndarray, path: Path) -> Path:
    """Write an image atomically as PNG (``bool`` arrays become 0/255 uint8)."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    image = Image.fromarray(array)
    return atomic_write(path, lambda f: image.save(f, format="PNG"))


def usable_image(path: Path, derived: Path) -> Path:
    """``path`` if MONAI's PIL reader loads its format, otherwise a PNG copy written at ``derived``."""
    if path.name.lower().endswith(_DIRECT_IMAGE_SUFFIXES):
        return path
    with open_image(path) as im:
        return write_png(np.asarray(im), derived)


def _single_channel(array: np.ndarray, path: Path) -> np.ndarray:
    """A label as one channel: equal channels, or the only colour used (e.g. a red annotation); alpha dropped."""
    if array.ndim == 2:
        return array
    if array.ndim != 3:
        raise ValueError(f"{path}: cannot binarise an array of shape {array.shape}; expected a 2-D mask.")
    colours = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
    used = [colours[..., c] for c in range(colours.shape[-1]) if colours[..., c].any()]
    if not used:
        return colours[..., 0]
    if all(np.array_equal(used[0], c) for c in used[1:]):
        return used[0]
    raise ValueError(
        f"{path}: cannot binarise a colour picture (its channels differ); expected a mask of one colour on black."
    )


def _to_binary(array: np.ndarray, path: Path, soft: bool) -> np.ndarray:
    """Foreground of a label.

    ``soft``: a 0-255 map of the fraction of annotators, foreground at the majority (>= 128). Otherwise a mask
    with at most two values ``{0, v}`` is ``> 0`` and an 8-bit mask with more values (antialiased edges) is
    ``>= 128``; anything else cannot be binarised sensibly.
    """
    mask = _single_channel(array, path)
    if mask.dtype == bool:
        return mask
    integer = np.issubdtype(mask.dtype, np.integer)
    low, high = mask.min(), mask.max()
    if soft or len(np.unique(mask)) > 2:
        if integer and 0 <= low and high <= 255:
            return mask >= 128
        raise ValueError(
            f"{path}: cannot binarise a label with {len(np.unique(mask))} distinct values in [{low}, {high}] "
            f"({mask.dtype}); expected a 0/255 or 0/1 mask, a 0/v mask or an 8-bit map thresholded at 128."
        )
    if low > 0 and high != low:
        raise ValueError(f"{path}: cannot binarise a label with values {low} and {high}; expected 0 as background.")
    return mask > 0


def _check_size(shape: tuple[int, ...], size: tuple[int, int] | None, path: Path, image: Path | None) -> None:
    if size is not None and (shape[1], shape[0]) != tuple(size):
        raise ValueError(
            f"{path}: size {shape[1]}x{shape[0]} differs from the {size[0]}x{size[1]} of its image {image}."
        )


def binary_label(
    path: Path, derived: Path, size: tuple[int, int] | None = None, image: Path | None = None, soft: bool = False
) -> Path:
    """A binary label for the datalist: ``path`` itself if it is one channel of {0, 255} or {0, 1} in a PNG, GIF
    or TIFF, otherwise a 0/255 uint8 PNG written at ``derived`` (see :func:`_to_binary`; ``soft``: always derived,
    majority >= 128).

    Args:
        size: (width, height) the label must have (that of ``image``), or ``None``.

    Raises:
        ValueError: unreadable, of the wrong size, or not binarisable; the message names the file.
    """
    array = read_array(path)
    _check_size(array.shape, size, path, image)
    if not soft and array.ndim == 2 and path.name.lower().endswith(_DIRECT_LABEL_SUFFIXES):
        values = set(np.unique(array).tolist())
        if values <= {0, 255} or values <= {0, 1}:
            return path
    return write_png(_to_binary(array, path, soft), derived)


def union_label(
    paths: Sequence[Path], derived: Path, size: tuple[int, int] | None = None, image: Path | None = None
) -> Path:
    """The union of binary labels (e.g. left and right lung), written as a 0/255 PNG at ``derived``."""
    union = None
    for path in paths:
        array = read_array(path)
        _check_size(array.shape, size, path, image)
        mask = _to_binary(array, path, soft=False)
        if union is not None and union.shape != mask.shape:
            raise ValueError(f"{path}: size {mask.shape[::-1]} differs from {union.shape[::-1]} of {paths[0]}.")
        union = mask if union is None else union | mask
    return write_png(union, derived)


def derive_fov_mask(image: Path, derived: Path) -> Path:
    """Field-of-view mask of a fundus photograph as the LD research code finds it, written as a 0/255 PNG.

    Any RGB channel > :data:`FOV_THRESHOLD`, the largest 8-connected component
    (:func:`ld_monai.data.field_of_view.largest_bright_component`), holes filled (``scipy.ndimage.binary_fill_holes``).

    Raises:
        ValueError: no pixel is brighter than the threshold.
    """
    array = read_array(image)
    colour = np.moveaxis(array[..., :3], -1, 0) if array.ndim == 3 else array[None]
    region = largest_bright_component(colour, FOV_THRESHOLD)
    if region is None:
        raise ValueError(
            f"{image}: no field of view found; expected a fundus photograph with pixels brighter than "
            f"{FOV_THRESHOLD}/255."
        )
    return write_png(ndimage.binary_fill_holes(region), derived)


def split_off(
    items: Sequence[Entry], fraction: float, seed: int, group: Callable[[Entry], str] | None = None
) -> tuple[list[Entry], list[Entry]]:
    """Split ``items`` into (rest, chosen): a seeded ``fraction`` of the groups is chosen.

    The groups (``group(item)``, default each item's ``"name"``) are sorted, permuted with
    ``numpy.random.RandomState(seed)`` and the first ``round(fraction * n)`` are chosen (at least one and not all
    of them when ``fraction > 0`` and there are two or more groups), so no group spans both parts.
    """
    key = group if group is not None else (lambda item: item["name"])
    groups = sorted({key(item) for item in items})
    n = len(groups)
    k = math.floor(fraction * n + 0.5)
    if fraction > 0 and n >= 2:
        k = min(max(k, 1), n - 1)
    chosen = {groups[i] for i in np.random.RandomState(seed).permutation(n)[:k]}
    return [item for item in items if key(item) not in chosen], [item for item in items if key(item) in chosen]


def count_note(found: int, expected: int, what: str) -> list[str]:
    """A remark when a split does not have the size of the official release (e.g. a partial download)."""
    return [] if found == expected else [f"found {found} {what}; the official release has {expected}."]


def relative_path(path: Path, out_dir: Path) -> str:
    """``path`` relative to ``out_dir``, with POSIX separators (how datalists store paths)."""
    return os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir)).replace(os.sep, "/")


def make_entry(
    out_dir: Path,
    name: str,
    image: Path,
    labels: Mapping[str, Path | Sequence[Path]],
    fov: Path | bool = False,
    soft: bool = False,
) -> Entry:
    """One datalist item, deriving what needs deriving.

    Args:
        out_dir: the output folder (derived files go to ``out_dir/derived/<key>/<name>.png``).
        name: unique stem of the item.
        image: the image, used as is when MONAI's PIL reader loads its format, otherwise converted to PNG.
        labels: structure key -> label file (:func:`binary_label`) or files whose union is the label
            (:func:`union_label`).
        fov: a shipped field-of-view mask, ``True`` to derive one (:func:`derive_fov_mask`), ``False`` for none.
        soft: the labels are annotator-fraction maps (majority vote).
    """
    image = usable_image(image, derived_path(out_dir, "image", name))
    size = image_size(image)
    entry: Entry = {"image": image}
    for key, source in labels.items():
        derived = derived_path(out_dir, key, name)
        if isinstance(source, Path):
            entry[key] = binary_label(source, derived, size, image, soft)
        else:
            entry[key] = union_label(source, derived, size, image)
    if isinstance(fov, Path):
        entry["mask"] = binary_label(fov, derived_path(out_dir, "mask", name), size, image)
    elif fov:
        entry["mask"] = derive_fov_mask(image, derived_path(out_dir, "mask", name))
    entry["name"] = name
    return entry


def make_datalist(
    out_dir: Path,
    *,
    name: str,
    description: str,
    reference: str,
    structures: Sequence[str],
    split_note: str,
    seed: int,
    val_fraction: float,
    training: Sequence[Entry],
    test: Sequence[Entry],
    group: Callable[[Entry], str] | None = None,
) -> dict[str, Any]:
    """The datalist dictionary, with the seeded validation part of ``training`` (:func:`split_off`).

    ``split_note`` describes the training/test rule; the validation rule is appended. Paths become relative to
    ``out_dir`` (POSIX separators); entries are sorted by name, their keys ordered ``image``, structures (in
    :data:`STRUCTURES` order), ``mask``, ``name``.

    Raises:
        ValueError: an unknown structure, two items with the same name, or an entry without a structure's key.
    """
    ordered = [s for s in STRUCTURES if s in structures]
    if len(ordered) != len(structures):
        raise ValueError(f"unknown structures {sorted(set(structures) - set(STRUCTURES))}; known: {STRUCTURES}.")
    keys = ["image", *ordered, "mask"]
    seen: dict[str, Path] = {}
    for item in [*training, *test]:
        if item["name"] in seen:
            raise ValueError(f"two items named {item['name']!r}: {seen[item['name']]} and {item['image']}; keep one.")
        seen[item["name"]] = item["image"]
    rest, validation = split_off(training, val_fraction, seed, group)
    unit = "patients" if group is not None else "items"
    datalist: dict[str, Any] = {
        "name": name,
        "description": description,
        "reference": reference,
        "structures": ordered,
        "split_note": f"{split_note}; validation = seeded {val_fraction * 100:g}% of the training {unit}",
        "seed": seed,
    }
    for split, items in zip(SPLITS, (rest, validation, test)):
        entries = []
        for item in sorted(items, key=lambda e: e["name"]):
            missing = [s for s in ordered if s not in item]
            if missing:
                raise ValueError(f"item {item['name']!r} has no {missing} (entry keys: {list(item)}).")
            entry = {k: relative_path(item[k], out_dir) for k in keys if k in item}
            entry["name"] = item["name"]
            entries.append(entry)
        datalist[split] = entries
    return datalist


def write_datalist(datalist: Mapping[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/datalist.json`` atomically (UTF-8, 2-space indent); returns its path."""
    text = json.dumps(datalist, indent=2, ensure_ascii=False) + "\n"
    return atomic_write(Path(out_dir) / "datalist.json", lambda f: f.write(text.encode("utf-8")))
