# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Read one split of a segmentation datalist written by ``ld-monai prepare``, checking every file first."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from ld_monai.data.file_format import file_stem

__all__ = ["load_segmentation_datalist"]


def load_segmentation_datalist(
    datalist_file: str | os.PathLike,
    split: str,
    structures: Sequence[str] = (),
    mask_key: str | None = None,
) -> list[dict]:
    """Items of ``split`` (``"training"``, ``"validation"`` or ``"test"``) with absolute paths.

    Paths are relative to the datalist's folder (MONAI decathlon convention). Every item must name an
    ``image``, each of ``structures`` and ``mask_key`` (when given), and every named file must exist: otherwise
    one ``FileNotFoundError``/``KeyError`` lists all offending entries, before any training starts. Items without
    a ``name`` get the image's file stem.
    """
    if not os.path.isfile(datalist_file):
        raise FileNotFoundError(f"datalist {datalist_file} does not exist: create one with `ld-monai prepare`.")
    with open(datalist_file) as f:
        content = json.load(f)
    if split not in content:
        raise KeyError(f"datalist {datalist_file} has no {split!r} split (it has {sorted(content)}).")
    items = [dict(item) for item in content[split]]
    if not items:
        raise ValueError(f"the {split!r} split of {datalist_file} is empty.")
    base = os.path.dirname(os.path.abspath(datalist_file))
    required = ["image", *structures] + ([mask_key] if mask_key else [])
    problems = []
    for index, item in enumerate(items):
        for key in required:
            if key not in item:
                problems.append(f"entry {index} has no {key!r} (keys: {sorted(item)})")
                continue
            item[key] = os.path.normpath(os.path.join(base, item[key]))
            if not os.path.isfile(item[key]):
                problems.append(f"entry {index} {key!r}: file {item[key]} does not exist")
        item.setdefault("name", file_stem(str(item.get("image", index))))
    if problems:
        listed = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise FileNotFoundError(f"datalist {datalist_file}, split {split!r}:\n  {listed}")
    return items
