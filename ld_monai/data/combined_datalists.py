# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Training on several prepared datalists at once (e.g. STARE with DRIVE), with every test split kept apart."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ld_monai.data.segmentation_datalist import load_segmentation_datalist
from ld_monai.distributed import is_main_process
from ld_monai.utils import atomic_write_json

__all__ = ["combine_segmentation_datalists", "record_datalists"]


def _test_images(datalist_file: str | os.PathLike) -> set[str]:
    try:
        return {item["image"] for item in load_segmentation_datalist(datalist_file, "test")}
    except (KeyError, ValueError):  # no test split, or an empty one
        return set()


def combine_segmentation_datalists(
    datalist_files: Sequence[str | os.PathLike],
    split: str,
    structures: Sequence[str] = (),
    mask_key: str | None = None,
) -> list[dict]:
    """The ``split`` items of every datalist, in the given order, each tagged with its ``datalist`` file.

    Each file is read by :func:`load_segmentation_datalist` (so every entry names ``structures`` and ``mask_key``
    and its files exist). The test splits stay apart: an image that is in the test split of any of the datalists
    may not appear in ``split`` of another (the same photograph prepared twice), or a ``ValueError`` names it.
    """
    files = [os.path.abspath(file) for file in datalist_files]
    if not files:
        raise ValueError("give at least one datalist file.")
    if len(set(files)) != len(files):
        raise ValueError(f"a datalist is given twice: {files}.")
    items = []
    for file in files:
        items += [{**item, "datalist": file} for item in load_segmentation_datalist(file, split, structures, mask_key)]
    if split != "test":
        tested = set().union(*(_test_images(file) for file in files))
        leaked = sorted(item["image"] for item in items if item["image"] in tested)
        if leaked:
            raise ValueError(f"{len(leaked)} {split} image(s) are test images of a combined datalist: {leaked[:5]}.")
    return items


def record_datalists(path: str | os.PathLike, splits: dict[str, Sequence[dict]]) -> dict:
    """Write which datalist gave how many items of each split (``{"datalists": {file: {split: count}}}``, plus
    the item names per split) to the JSON file ``path``, the run's record of the data it was trained on."""
    counts: dict[str, dict[str, int]] = {}
    for split, items in splits.items():
        for item in items:
            per_split = counts.setdefault(item.get("datalist", "?"), {name: 0 for name in splits})
            per_split[split] += 1
    names = {split: [item["name"] for item in items] for split, items in splits.items()}
    record = {"datalists": counts, "items": names}
    if is_main_process():
        atomic_write_json(path, record)
    return record
